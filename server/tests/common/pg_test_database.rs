//! A PostgreSQL database of one test's own, for every suite that runs on
//! PostgreSQL: the black-box suites include it through `common`, and the
//! store's own tests (`src/store/mod.rs`) with a `#[path]`. It uses nothing
//! but sqlx, uuid and tokio, which both have.

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

/// A PostgreSQL database of one test's own, created through an
/// administrator's URL (`TEST_POSTGRES_URL`, on a throwaway server:
/// `scripts/test` starts one) and dropped, with every connection to it,
/// when this is dropped.
pub struct PgTestDatabase {
    admin: Box<PgConnectOptions>,
    name: String,
}

impl PgTestDatabase {
    /// Creates `<prefix>_<random>` on the server `admin_url` names. `help`
    /// ends the panic message when that server cannot be used: how to get
    /// one.
    pub async fn create(admin_url: &str, prefix: &str, help: &str) -> Self {
        let admin: PgConnectOptions = admin_url.parse().unwrap_or_else(|error| {
            panic!("TEST_POSTGRES_URL is not a PostgreSQL URL ({error}). {help}")
        });
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "TEST_POSTGRES_URL names a PostgreSQL server that cannot be reached \
                     ({error}). {help}"
                )
            });
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("create database {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        Self {
            admin: Box::new(admin),
            name,
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL the servers are given: the administrator's, on this database.
    pub fn url(&self) -> String {
        self.admin
            .clone()
            .database(&self.name)
            .to_url_lossy()
            .to_string()
    }

    /// A connection of the administrator's (to the server's default
    /// database), for what a test does from outside the servers.
    pub async fn admin(&self) -> PgConnection {
        PgConnection::connect_with(&self.admin).await.unwrap()
    }
}

/// Drops the database from a thread of its own: this runs inside the
/// test's runtime, which cannot be blocked on. A database left behind by a
/// failed drop goes with the throwaway cluster.
impl Drop for PgTestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut conn = PgConnection::connect_with(&*admin).await?;
                sqlx::query(&format!("drop database if exists {name} with (force)"))
                    .execute(&mut conn)
                    .await
            })
        })
        .join();
    }
}
