-- The key ring that signs and verifies access tokens, shared by every
-- instance on this database (with SQLite the keys are files in the data
-- folder instead). The newest key whose activation delay has passed signs;
-- older ones only verify until their tokens have expired, and
-- `server keys rotate` deletes them then (see server/src/auth/keys.rs).
-- Instances starting together on an empty table each try to insert
-- generation 1 with `on conflict do nothing` and read back the one that won.
create table signing_keys (
    generation bigint primary key,
    alg text not null check (alg in ('HS256', 'EdDSA')),
    -- The HMAC key or the Ed25519 seed: whoever reads this table can sign
    -- tokens, as whoever can write `users` can take accounts over.
    secret bytea not null,
    created_at timestamptz not null
);

-- Secrets of the server that are not signing keys and are never rotated:
-- the device cookie's MAC key, so rotating the ring forgets no device.
create table server_secrets (
    name text primary key,
    secret bytea not null,
    created_at timestamptz not null default now()
);
