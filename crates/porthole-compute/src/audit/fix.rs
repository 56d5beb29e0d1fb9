//! Rewriting the VNC listen address in domain XML (the persistent definition), as text: only the
//! `listen` attribute of `<graphics type='vnc'>` and the `address` of its `<listen type='address'>`
//! children change; everything else, the password included, stays byte for byte.

/// Returns the old address and the new XML, or `None` when there is no TCP VNC listener to change
/// or it already listens on `new`.
pub fn rewrite_vnc_listen(xml: &str, new: &str) -> Option<(String, String)> {
    let start = xml.find("<graphics type='vnc'").or_else(|| xml.find("<graphics type=\"vnc\""))?;
    let rest = &xml[start..];
    let open_end = rest.find('>')?;
    let end = if rest[..open_end].ends_with('/') { open_end + 1 } else { rest.find("</graphics>")? + "</graphics>".len() };
    let element = &rest[..end];
    let old = attr(element, "listen").or_else(|| attr(element, "address"))?;
    if old == new {
        return None;
    }
    let replaced = element
        .replace(&format!("listen='{old}'"), &format!("listen='{new}'"))
        .replace(&format!("listen=\"{old}\""), &format!("listen=\"{new}\""))
        .replace(&format!("address='{old}'"), &format!("address='{new}'"))
        .replace(&format!("address=\"{old}\""), &format!("address=\"{new}\""));
    Some((old, format!("{}{}{}", &xml[..start], replaced, &rest[end..])))
}

fn attr(element: &str, name: &str) -> Option<String> {
    for quote in ['\'', '"'] {
        let key = format!(" {name}={quote}");
        if let Some(i) = element.find(&key) {
            let v = &element[i + key.len()..];
            return v.find(quote).map(|j| v[..j].to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_attribute_and_listen_child_only() {
        let xml = "<domain><name>x</name><devices><graphics type='vnc' port='-1' autoport='yes' listen='0.0.0.0' passwd='pw'>\n  <listen type='address' address='0.0.0.0'/>\n</graphics><video/></devices></domain>";
        let (old, new) = rewrite_vnc_listen(xml, "127.0.0.1").unwrap();
        assert_eq!(old, "0.0.0.0");
        assert_eq!(new, xml.replace("0.0.0.0", "127.0.0.1"));
        assert!(new.contains("passwd='pw'"));
    }

    #[test]
    fn nothing_to_do() {
        assert_eq!(rewrite_vnc_listen("<graphics type='vnc' listen='127.0.0.1'/>", "127.0.0.1"), None);
        assert_eq!(rewrite_vnc_listen("<graphics type='spice' listen='0.0.0.0'/>", "127.0.0.1"), None);
        assert_eq!(rewrite_vnc_listen("<graphics type='vnc'><listen type='socket'/></graphics>", "127.0.0.1"), None);
    }

    #[test]
    fn self_closing_element() {
        let (old, new) = rewrite_vnc_listen("<d><graphics type='vnc' listen='::'/><x listen='::'/></d>", "127.0.0.1").unwrap();
        assert_eq!(old, "::");
        assert_eq!(new, "<d><graphics type='vnc' listen='127.0.0.1'/><x listen='::'/></d>");
    }
}
