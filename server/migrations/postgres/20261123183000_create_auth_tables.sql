-- Accounts, logins (sessions) and the refresh tokens of each login: the
-- PostgreSQL twin of ../sqlite/20261123183000_create_auth_tables.sql, with
-- native types (uuid, timestamptz, bytea) instead of SQLite's blobs and text.
--
-- Conventions as on SQLite: plural table names, lower-case SQL. Times are
-- stored to the microsecond (sqlx truncates chrono's nanoseconds).

create table users (
    id            uuid primary key,
    -- Trimmed and lower-cased before it gets here (app::domain::Email), so the
    -- unique constraint is also the case-insensitive one.
    email         text not null unique,
    -- An argon2id PHC string; never leaves the server.
    password_hash text not null,
    created_at    timestamptz not null
);

-- One login on one device. It outlives each of its refresh tokens: rotation
-- replaces the token, never the session, and never moves `expires_at`.
create table sessions (
    id           uuid primary key,
    user_id      uuid not null references users (id) on delete cascade,
    created_at   timestamptz not null,
    last_used_at timestamptz not null,
    -- Absolute end of the session: login time + SESSION_MAX_AGE_SECS.
    expires_at   timestamptz not null,
    -- The revoked flag. Set once and never cleared; it is checked before the
    -- refresh grace window, which is measured from `refresh_tokens.rotated_at`
    -- and so can never be reopened by revoking.
    revoked_at   timestamptz,
    user_agent   text,
    -- Insertion order, to list sessions created in the same microsecond in a
    -- stable order (SQLite's rowid does this there).
    seq          bigint generated always as identity
);

create index sessions_user_id on sessions (user_id);

-- Only the SHA-256 of each refresh token is stored, never the token.
create table refresh_tokens (
    token_hash bytea primary key,
    session_id uuid not null references sessions (id) on delete cascade,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    -- Null while this is the session's current token; set, once, by the one
    -- conditional update that rotates it.
    rotated_at timestamptz
);

create index refresh_tokens_session_id on refresh_tokens (session_id);
