//! What `netstat -tanp | grep qemu | grep LISTEN` shows: listening TCP sockets (/proc/net/tcp and
//! tcp6) that belong to QEMU processes (their /proc/PID/fd links), read from /proc.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A listening socket of a QEMU process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QemuListener {
    /// The process.
    pub pid: u32,
    /// Its `-name` (guest=NAME) if it has one, else its command name.
    pub name: String,
    /// Local address.
    pub addr: IpAddr,
    /// Local port.
    pub port: u16,
}

/// Parses one /proc/net/tcp[6] table: LISTEN sockets as (address, port, inode).
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
                let word = u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).ok()?.swap_bytes();
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// Every listening TCP socket of a process whose command is `qemu-system-*` on this host.
pub fn qemu_listeners() -> std::io::Result<Vec<QemuListener>> {
    let mut by_inode: HashMap<u64, (IpAddr, u16)> = HashMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            by_inode.extend(parse_proc_net_tcp(&text).into_iter().map(|(a, p, i)| (i, (a, p))));
        }
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if !comm.trim().starts_with("qemu-system") {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else { continue };
            let link = link.to_string_lossy();
            let Some(inode) = link.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')).and_then(|i| i.parse().ok()) else {
                continue;
            };
            if let Some((addr, port)) = by_inode.get(&inode) {
                out.push(QemuListener { pid, name: qemu_name(pid, comm.trim()), addr: *addr, port: *port });
            }
        }
    }
    out.sort_by_key(|l| (l.pid, l.port));
    Ok(out)
}

fn qemu_name(pid: u32, comm: &str) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    let name = args.iter().position(|a| a == "-name").and_then(|i| args.get(i + 1)).map(|n| {
        n.split(',').find_map(|p| p.strip_prefix("guest=")).unwrap_or_else(|| n.split(',').next().unwrap_or(n)).to_owned()
    });
    name.unwrap_or_else(|| comm.to_owned())
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
    fn garbage_is_skipped() {
        assert!(parse_proc_net_tcp("header\nnonsense line\n 0: zz:zz 0 0A\n").is_empty());
    }
}
