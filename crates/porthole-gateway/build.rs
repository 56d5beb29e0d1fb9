//! Rebuilds this crate when anything in web/ changes: rust-embed embeds those files at compile
//! time, and cargo alone would not notice new ones (such as `npm ci --prefix web` run after a
//! first build).

fn main() {
    println!("cargo:rerun-if-changed=../../web");
}
