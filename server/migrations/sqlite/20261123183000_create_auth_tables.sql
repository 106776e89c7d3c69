-- Accounts, logins (sessions) and the refresh tokens of each login.
--
-- Conventions: plural table names, lower-case SQL, ids are UUIDs stored as
-- 16-byte blobs (sqlx's encoding of `uuid::Uuid`), times are RFC 3339 text
-- in UTC (sqlx's encoding of `chrono::DateTime<Utc>`), which sorts and
-- compares correctly as text.

create table users (
    id            blob primary key not null,
    -- Trimmed and lower-cased before it gets here (app::domain::Email), so the
    -- unique constraint is also the case-insensitive one.
    email         text not null unique,
    -- An argon2id PHC string; never leaves the server.
    password_hash text not null,
    created_at    text not null
) strict;

-- One login on one device. It outlives each of its refresh tokens: rotation
-- replaces the token, never the session, and never moves `expires_at`.
create table sessions (
    id           blob primary key not null,
    user_id      blob not null references users (id) on delete cascade,
    created_at   text not null,
    last_used_at text not null,
    -- Absolute end of the session: login time + SESSION_MAX_AGE_SECS.
    expires_at   text not null,
    -- The revoked flag. Set once and never cleared; it is checked before the
    -- refresh grace window, which is measured from `refresh_tokens.rotated_at`
    -- and so can never be reopened by revoking.
    revoked_at   text,
    user_agent   text
) strict;

create index sessions_user_id on sessions (user_id);

-- Only the SHA-256 of each refresh token is stored, never the token.
create table refresh_tokens (
    token_hash blob primary key not null,
    session_id blob not null references sessions (id) on delete cascade,
    created_at text not null,
    expires_at text not null,
    -- Null while this is the session's current token; set, once, by the one
    -- conditional update that rotates it.
    rotated_at text
) strict;

create index refresh_tokens_session_id on refresh_tokens (session_id);
