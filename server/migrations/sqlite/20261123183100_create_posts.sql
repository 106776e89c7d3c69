-- The protected resource: each user's own posts.
create table posts (
    id         blob primary key not null,
    user_id    blob not null references users (id) on delete cascade,
    title      text not null,
    body       text not null,
    created_at text not null
) strict;

create index posts_user_id_created_at on posts (user_id, created_at);
