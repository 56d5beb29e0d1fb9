//! Real VNC servers for the security proxy tests: QEMU started directly (password-secret,
//! tls-creds-x509) and TigerVNC Xvnc (VncAuth, X509None), with certificates made by openssl.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use crate::listening::{free_port, Listening};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// QEMU (TCG, no disk) with VNC on 127.0.0.1 and extra `-vnc` options and objects, on a port it owns.
/// The display number is the port less 5900: a port from the kernel's ephemeral range, never one
/// that libvirt's autoport hands out.
pub fn qemu(objects: &[String], vnc_opts: &str) -> Listening {
    Listening::start("QEMU", free_port(), |port| {
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-M", "pc", "-m", "32", "-nodefaults", "-vga", "std", "-display", "none"]);
        for o in objects {
            cmd.args(["-object", o]);
        }
        cmd.arg("-vnc").arg(format!("127.0.0.1:{}{vnc_opts}", port - 5900));
        cmd
    })
}

/// TigerVNC Xvnc with these security options, on a port it owns. The X display is the first free
/// one, which the X server itself picks and locks (`-displayfd`, written to stdout, unused here).
pub fn xvnc(args: &[&str]) -> Listening {
    Listening::start("Xvnc", free_port(), |port| {
        let mut cmd = Command::new("Xvnc");
        cmd.args(["-displayfd", "1", "-geometry", "640x480", "-depth", "24", "-localhost", "-nolisten", "tcp"]);
        cmd.args(["-rfbport", &port.to_string()]).args(args);
        cmd
    })
}

/// An obfuscated VNC password file for Xvnc's -rfbauth.
pub fn vnc_passwd_file(dir: &Path, password: &str) -> PathBuf {
    let out = Command::new("vncpasswd").arg("-f").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().and_then(|mut c| {
        use std::io::Write as _;
        c.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes())?;
        c.wait_with_output()
    });
    let path = dir.join("passwd");
    std::fs::write(&path, out.unwrap().stdout).unwrap();
    path
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, a server certificate (for QEMU's tls-creds-x509 dir layout) and a client certificate.
/// `name` makes a second, unrelated CA distinguishable.
pub fn make_pki(dir: &Path, name: &str) {
    let ext = |usage: &str| {
        format!("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage={usage}\nsubjectAltName=DNS:vnc.{name}.test\n")
    };
    std::fs::write(dir.join("server.ext"), ext("serverAuth")).unwrap();
    std::fs::write(dir.join("client.ext"), ext("clientAuth")).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca-cert.pem",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} test CA"),
        ],
    );
    for who in ["server", "client"] {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{who}-key.pem"),
                "-out",
                &format!("{who}.csr"),
                "-subj",
                &format!("/CN={who}.{name}.test"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{who}.csr"),
                "-CA",
                "ca-cert.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-out",
                &format!("{who}-cert.pem"),
                "-days",
                "2",
                "-extfile",
                &format!("{who}.ext"),
            ],
        );
    }
}

/// Signs the server's request of [`make_pki`] again without extensions: with OpenSSL 3.0 that
/// makes an X.509 version 1 certificate, as old recipes do (QEMU and gnutls accept it).
pub fn reissue_server_cert_as_v1(dir: &Path) {
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca-cert.pem",
            "-CAkey",
            "ca-key.pem",
            "-set_serial",
            "41",
            "-out",
            "server-cert.pem",
            "-days",
            "2",
        ],
    );
    let out = Command::new("openssl").args(["x509", "-noout", "-text", "-in", "server-cert.pem"]).current_dir(dir).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Version: 1 (0x0)"), "openssl did not make a v1 certificate");
}
