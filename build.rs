// `sqlx::migrate!()` (src/server/db.rs) embeds the migrations at compile time; without this a
// new migration file is not noticed by an incremental build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
