-- The throttle of src/auth/throttle.rs, shared by every instance on this
-- database, so that N instances allow LOGIN_MAX_FAILURES per window, not N
-- times that. (On SQLite the server is one process and counts in memory.)
--
-- One row per limiter and key that has counted attempts, each row at most
-- the limiter's `max` times: refused attempts are never stored, taken-back
-- ones are removed, and a row whose attempts were all taken back is deleted.
-- Rows whose attempts have all left the window are deleted a few at a time
-- by each counted attempt and in batches by the cleanup sweep
-- (src/cleanup.rs), so the table holds about the keys counted within one
-- window.
--
-- Unlogged: its rows matter for minutes, and every login writes it twice
-- (the attempt, its take-back), so its commits should not wait for the WAL
-- to reach the disk. The price: a crash of the database (not a clean
-- restart) empties it, and a standby does not have it, so after a crash or
-- a failover every key starts afresh, as the in-memory throttle does when
-- the server restarts.
create unlogged table throttle (
    -- Which limiter: 1 logins (and password changes), 2 registrations,
    -- 3 refreshes with unknown tokens.
    limiter    smallint not null,
    -- A kind byte and 16 bytes of a SHA-256 (of the client address, the
    -- normalised email, the session id) or of the device cookie's random
    -- id: never an address or an email as such.
    key        bytea not null,
    -- When each counted attempt started, oldest first.
    times      timestamptz[] not null,
    -- When the newest of `times` leaves the window: the row can go then.
    expires_at timestamptz not null,
    primary key (limiter, key)
);

create index throttle_expires_at on throttle (expires_at);
