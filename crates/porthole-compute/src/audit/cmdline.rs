//! What a QEMU command line says about a process: its `-name` and `-uuid` (libvirt passes both),
//! and how its `-vnc` server authenticates (password, SASL, TLS and whether TLS verifies clients).
//! Pure parsing of the argument list of /proc/PID/cmdline.

/// How a QEMU's VNC server authenticates clients, from its `-vnc` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VncAuth {
    /// `password=on` or `password-secret=…`: VNC authentication.
    pub password: bool,
    /// `sasl=on`.
    pub sasl: bool,
    /// `tls-creds=…` (or the old `tls`, `x509=`): VeNCrypt.
    pub tls: bool,
    /// The TLS credentials verify client certificates (`verify-peer`, the old `x509verify=`).
    pub tls_verify_peer: bool,
}

impl VncAuth {
    /// Whether a client must prove who it is: a password, SASL, or a verified client certificate.
    pub fn authenticates_clients(&self) -> bool {
        self.password || self.sasl || (self.tls && self.tls_verify_peer)
    }
}

/// The parts of a QEMU command line the audit uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QemuArgs {
    /// `-name guest=NAME,…` or `-name NAME`.
    pub name: Option<String>,
    /// `-uuid UUID` (libvirt always passes the domain's).
    pub uuid: Option<String>,
    /// The VNC server, when there is a `-vnc` option (other than `-vnc none`).
    pub vnc: Option<VncAuth>,
}

/// Parses the arguments of a QEMU process (/proc/PID/cmdline split at NUL bytes).
pub fn parse_qemu_args(args: &[String]) -> QemuArgs {
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    let name = value("-name").map(|n| {
        let first = n.split(',').next().unwrap_or(n);
        n.split(',').find_map(|p| p.strip_prefix("guest=")).unwrap_or(first).to_owned()
    });
    let uuid = value("-uuid").cloned();
    let vnc = value("-vnc").filter(|v| v.as_str() != "none").map(|v| vnc_auth(v, args));
    QemuArgs { name, uuid, vnc }
}

/// Reads `-vnc DISPLAY,opt=…,…`; TLS credentials are looked up among the `-object` options.
fn vnc_auth(vnc: &str, args: &[String]) -> VncAuth {
    let opts: Vec<(&str, &str)> = vnc.split(',').skip(1).map(|o| o.split_once('=').unwrap_or((o, "on"))).collect();
    let on = |key: &str| opts.iter().any(|(k, v)| *k == key && is_true(v));
    let value = |key: &str| opts.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let creds = value("tls-creds");
    let mut auth = VncAuth {
        password: on("password") || value("password-secret").is_some(),
        sasl: on("sasl"),
        tls: creds.is_some() || on("tls") || value("x509").is_some() || value("x509verify").is_some(),
        tls_verify_peer: value("x509verify").is_some(),
    };
    if let Some(id) = creds {
        auth.tls_verify_peer |= args.iter().any(|a| object_has_id(a, id) && verifies_peer(a));
    }
    auth
}

fn is_true(v: &str) -> bool {
    matches!(v, "on" | "yes" | "true")
}

/// Whether an `-object` argument (`type,id=ID,…` or JSON `{"id":"ID",…}`) defines `id`.
fn object_has_id(arg: &str, id: &str) -> bool {
    arg.split(',').any(|p| p == format!("id={id}")) || arg.contains(&format!("\"id\":\"{id}\""))
}

fn verifies_peer(arg: &str) -> bool {
    arg.contains("\"verify-peer\":true") || arg.split(',').any(|p| p.strip_prefix("verify-peer=").is_some_and(is_true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn libvirt_command_line() {
        let a = parse_qemu_args(&args(
            "/usr/bin/qemu-system-x86_64 -name guest=web01,debug-threads=on -S -uuid b940d51a-c154-497c-8ae2-0303edbddcc7 \
             -vnc 0.0.0.0:0,websocket=5700,password=on,audiodev=audio1 -device VGA",
        ));
        assert_eq!(a.name.as_deref(), Some("web01"));
        assert_eq!(a.uuid.as_deref(), Some("b940d51a-c154-497c-8ae2-0303edbddcc7"));
        assert_eq!(a.vnc, Some(VncAuth { password: true, ..VncAuth::default() }));
    }

    #[test]
    fn by_hand_without_auth() {
        let a = parse_qemu_args(&args("qemu-system-x86_64 -M pc -m 32 -display none -vnc 0.0.0.0:55"));
        assert_eq!((a.name, a.uuid), (None, None));
        let vnc = a.vnc.unwrap();
        assert_eq!(vnc, VncAuth::default());
        assert!(!vnc.authenticates_clients());
        assert_eq!(parse_qemu_args(&args("qemu -name plain -vnc none")).name.as_deref(), Some("plain"));
        assert_eq!(parse_qemu_args(&args("qemu -vnc none")).vnc, None);
    }

    #[test]
    fn tls_with_and_without_client_certificates() {
        let json = "qemu -object {\"qom-type\":\"tls-creds-x509\",\"id\":\"vnc-tls-creds0\",\"dir\":\"/etc/pki/qemu\",\"endpoint\":\"server\",\"verify-peer\":true} \
                    -vnc 0.0.0.0:1,tls-creds=vnc-tls-creds0";
        let vnc = parse_qemu_args(&args(json)).vnc.unwrap();
        assert!(vnc.tls && vnc.tls_verify_peer && vnc.authenticates_clients());
        let legacy = "qemu -object tls-creds-x509,id=t0,dir=/d,endpoint=server,verify-peer=off -vnc 127.0.0.1:2,tls-creds=t0";
        let vnc = parse_qemu_args(&args(legacy)).vnc.unwrap();
        assert!(vnc.tls && !vnc.tls_verify_peer && !vnc.authenticates_clients());
        let secret = "qemu -object secret,id=s0,data=pw -vnc 127.0.0.1:3,password-secret=s0,sasl";
        let vnc = parse_qemu_args(&args(secret)).vnc.unwrap();
        assert!(vnc.password && vnc.sasl && !vnc.tls);
    }
}
