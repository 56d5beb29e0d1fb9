//! What `netstat -tanp | grep qemu | grep LISTEN` shows: listening TCP sockets (/proc/net/tcp and
//! tcp6) that belong to QEMU processes (their /proc/PID/fd links), with each process's command line.

use super::cmdline::{parse_qemu_args, QemuArgs};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A QEMU process on this host that listens on TCP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QemuProcess {
    /// Its pid.
    pub pid: u32,
    /// Its command line: `-name`, `-uuid`, `-vnc` authentication.
    pub args: QemuArgs,
    /// Its listening TCP sockets (address, port), sorted.
    pub listeners: Vec<(IpAddr, u16)>,
}

impl QemuProcess {
    /// How findings name it: its `-name`, else `pid:N`.
    pub fn label(&self) -> String {
        self.args.name.clone().unwrap_or_else(|| format!("pid:{}", self.pid))
    }
}

/// The QEMU processes found, and those whose sockets could not be read (another user's, when
/// not run as root).
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// QEMU processes with at least one listening TCP socket.
    pub processes: Vec<QemuProcess>,
    /// Pids of QEMU processes whose /proc/PID/fd could not be read.
    pub unreadable: Vec<u32>,
}

/// Parses one `/proc/net/tcp` or `/proc/net/tcp6` table: LISTEN sockets as (address, port, inode).
pub fn parse_proc_net_tcp(table: &str) -> Vec<(IpAddr, u16, u64)> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.get(3) != Some(&"0A") {
                return None;
            }
            let (addr, port) = f.get(1)?.split_once(':')?;
            let port = u16::from_str_radix(port, 16).ok()?;
            let inode = f.get(9)?.parse().ok()?;
            Some((parse_hex_addr(addr)?, port, inode))
        })
        .collect()
}

/// /proc/net addresses are the in-memory words in hex: IPv4 one little-endian u32, IPv6 four.
fn parse_hex_addr(hex: &str) -> Option<IpAddr> {
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(hex, 16).ok()?.swap_bytes()))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                let word = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?.swap_bytes();
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// Every QEMU process (`qemu-system-*`, `qemu-kvm`) on this host with its listening TCP sockets.
/// Blocking: reads /proc.
pub fn scan_qemu_processes() -> std::io::Result<Scan> {
    let mut by_inode: HashMap<u64, (IpAddr, u16)> = HashMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            by_inode.extend(parse_proc_net_tcp(&text).into_iter().map(|(a, p, i)| (i, (a, p))));
        }
    }
    let mut scan = Scan::default();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if !is_qemu(pid) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            scan.unreadable.push(pid);
            continue;
        };
        let mut listeners: Vec<(IpAddr, u16)> = fds
            .flatten()
            .filter_map(|fd| socket_inode(&std::fs::read_link(fd.path()).ok()?.to_string_lossy()))
            .filter_map(|inode| by_inode.get(&inode).copied())
            .collect();
        if listeners.is_empty() {
            continue;
        }
        listeners.sort_unstable();
        listeners.dedup();
        scan.processes.push(QemuProcess { pid, args: parse_qemu_args(&cmdline(pid)), listeners });
    }
    scan.processes.sort_by_key(|p| p.pid);
    Ok(scan)
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

/// By /proc/PID/comm (at most 15 bytes: `qemu-system-x86`), else the executable's name.
fn is_qemu(pid: u32) -> bool {
    let qemu = |name: &str| name.starts_with("qemu-system") || name.starts_with("qemu-kvm");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    qemu(comm.trim())
        || std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .and_then(|exe| exe.file_name().map(|n| qemu(&n.to_string_lossy())))
            .unwrap_or(false)
}

fn cmdline(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listen_sockets_v4_and_v6() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:170C 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:170D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12346 1\n   2: 0100007F:A0B1 0100007F:170D 01 00000000:00000000 00:00000000 00000000     0        0 12347 1\n";
        let got = parse_proc_net_tcp(v4);
        assert_eq!(got, vec![(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5900, 12345), (IpAddr::V4(Ipv4Addr::LOCALHOST), 5901, 12346)]);
        let v6 = "  sl  local_address remote_address st\n   0: 00000000000000000000000001000000:170E 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1\n   1: 00000000000000000000000000000000:170F 00000000000000000000000000000000:0000 0A 0 0 0 0 0 223 1\n";
        let got = parse_proc_net_tcp(v6);
        assert_eq!(got, vec![(IpAddr::V6(Ipv6Addr::LOCALHOST), 5902, 222), (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 5903, 223)]);
    }

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode("socket:[4242]"), Some(4242));
        assert_eq!(socket_inode("pipe:[4242]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }

    #[test]
    fn garbage_is_skipped() {
        assert!(parse_proc_net_tcp("header\nnonsense line\n 0: zz:zz 0 0A\n").is_empty());
    }
}
