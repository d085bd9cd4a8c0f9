// The migrations are embedded in the crate (`sqlx::migrate!`): one added or changed
// must rebuild it, which cargo does not know from the sources alone.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
