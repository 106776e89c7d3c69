//! `sqlx::migrate!` embeds the migration files when the server is compiled,
//! and cargo does not watch that folder on its own: without this, a
//! migration added to it would be left out of the next build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
