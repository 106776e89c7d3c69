-- The protected resource: each user's own posts.
create table posts (
    id         uuid primary key,
    user_id    uuid not null references users (id) on delete cascade,
    title      text not null,
    body       text not null,
    created_at timestamptz not null,
    -- Insertion order, the tie-break of "newest first" (SQLite's rowid).
    seq        bigint generated always as identity
);

create index posts_user_id_created_at on posts (user_id, created_at);
