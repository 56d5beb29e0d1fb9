//! What a `[[nodes]] libvirt_uri` may be, checked at load instead of at the first libvirt call:
//! `DRIVER[+TRANSPORT]://[USER@][HOST][:PORT]/PATH[?PARAMS]` with a hypervisor driver libvirt
//! knows and one of the remote driver's transports (libvirt's `remoteDriverTransport`).

/// libvirt's hypervisor drivers, by URI scheme (libvirt.org/drivers.html and each driver's page).
const DRIVERS: [&str; 18] = [
    "qemu",
    "test",
    "lxc",
    "xen",
    "libxl",
    "vbox",
    "bhyve",
    "ch",
    "vz",
    "parallels",
    "openvz",
    "esx",
    "gsx",
    "vpx",
    "hyperv",
    "vmwareplayer",
    "vmwarews",
    "vmwarefusion",
];

/// The remote driver's transports: `qemu+ssh://…`.
const TRANSPORTS: [&str; 7] = ["tls", "unix", "ssh", "libssh2", "ext", "tcp", "libssh"];

/// The QEMU driver's instances: `qemu:///system`, `qemu:///session`, `qemu:///embed?root=…`.
const QEMU_PATHS: [&str; 3] = ["/system", "/session", "/embed"];

/// Why `uri` is not a libvirt URI Porthole can use, in one line; `None` when it is.
pub(super) fn problem(uri: &str) -> Option<String> {
    let example = "such as \"qemu:///system\" or \"qemu+ssh://root@kvm1/system\"";
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Some(format!("libvirt_uri {uri:?} is not a libvirt URI {example}"));
    };
    let (driver, transport) = match scheme.split_once('+') {
        Some((d, t)) => (d, Some(t)),
        None => (scheme, None),
    };
    if !DRIVERS.contains(&driver) {
        let hint = match driver {
            "kvm" => "KVM guests are run by the qemu driver: \"qemu:///system\"; ".to_owned(),
            _ => closest(driver, &DRIVERS).map(|d| format!("did you mean \"{d}\"? ")).unwrap_or_default(),
        };
        return Some(format!("libvirt_uri {uri:?}: unknown libvirt driver {driver:?} ({hint}libvirt's drivers: {})", DRIVERS.join(", ")));
    }
    if let Some(t) = transport.filter(|t| !TRANSPORTS.contains(t)) {
        let hint = closest(t, &TRANSPORTS).map(|t| format!("did you mean \"+{t}\"? ")).unwrap_or_default();
        let all: Vec<String> = TRANSPORTS.iter().map(|t| format!("+{t}")).collect();
        return Some(format!("libvirt_uri {uri:?}: unknown transport \"+{t}\" ({hint}libvirt's transports: {})", all.join(", ")));
    }
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let path = path.split('?').next().unwrap_or_default();
    if driver == "qemu" && !QEMU_PATHS.contains(&path) {
        return Some(format!("libvirt_uri {uri:?}: a QEMU URI ends in /system (or /session), as in \"qemu:///system\""));
    }
    None
}

/// The known word closest to `word`: one edit away, or two for words of five letters or more.
fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let most = if word.chars().count() >= 5 { 2 } else { 1 };
    known.iter().map(|k| (edit_distance(word, k), *k)).filter(|(d, _)| *d <= most).min_by_key(|(d, _)| *d).map(|(_, k)| k)
}

/// Levenshtein distance, with a swap of two neighbours counted as one edit (`qmeu` → `qemu`).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_uris_pass() {
        for uri in [
            "qemu:///system",
            "qemu:///session",
            "qemu+ssh://root@kvm1.example.com/system",
            "qemu+tls://kvm1/system",
            "qemu+tcp://127.0.0.1:16509/system",
            "qemu+unix:///system?socket=/run/libvirt/virtqemud-sock",
            "qemu+libssh2://root@h/system?known_hosts=/root/.ssh/known_hosts",
            "qemu+ext:///system?command=/opt/tunnel",
            "qemu:///embed?root=/var/lib/embed",
            "test:///default",
            "test:///tmp/node.xml",
            "lxc:///system",
            "xen:///system",
            "ch:///session",
            "esx://root@esx1/?no_verify=1",
            "vbox:///session",
        ] {
            assert_eq!(problem(uri), None, "{uri}");
        }
    }

    #[test]
    fn a_misspelt_driver_is_named_with_a_suggestion() {
        let p = problem("qmeu:///system").unwrap();
        assert!(p.contains("unknown libvirt driver \"qmeu\"") && p.contains("did you mean \"qemu\""), "{p}");
        assert!(p.contains("qemu, test, lxc"), "{p}");
        assert!(!p.contains('\n'));
        let p = problem("kvm:///system").unwrap();
        assert!(p.contains("unknown libvirt driver \"kvm\"") && p.contains("run by the qemu driver"), "{p}");
        let p = problem("docker:///system").unwrap();
        assert!(p.contains("unknown libvirt driver \"docker\"") && !p.contains("did you mean"), "{p}");
        assert!(problem("vmwarewss:///session").unwrap().contains("did you mean \"vmwarews\""));
    }

    #[test]
    fn a_misspelt_transport_is_named() {
        let p = problem("qemu+shh://root@h/system").unwrap();
        assert!(p.contains("unknown transport \"+shh\"") && p.contains("did you mean \"+ssh\""), "{p}");
        assert!(problem("qemu+https://h/system").unwrap().contains("+tls"));
    }

    #[test]
    fn not_a_uri_or_a_wrong_qemu_path() {
        assert!(problem("kvm1.example.com").unwrap().contains("is not a libvirt URI"));
        assert!(problem("qemu:/system").unwrap().contains("is not a libvirt URI"));
        assert!(problem("qemu:///sytem").unwrap().contains("ends in /system"));
        assert!(problem("qemu+ssh://root@kvm1").unwrap().contains("ends in /system"));
    }

    #[test]
    fn edit_distance_counts_swaps_once() {
        assert_eq!(edit_distance("qmeu", "qemu"), 1);
        assert_eq!(edit_distance("qemu", "qemu"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("lxd", "lxc"), 1);
    }
}
