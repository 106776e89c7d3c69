-- Announces every revocation of a session on the channel `session_revoked`
-- (payload: the session's id), where each instance's revocation feed
-- listens (src/revocation_feed.rs, which names the same channel). A
-- notification is delivered when, and only when, the revoking transaction
-- commits.
--
-- A trigger rather than a `pg_notify` in each revoking statement, so that no
-- statement that revokes sessions, now or later, in the server or by hand,
-- can forget to tell the other instances. It fires only when `revoked_at`
-- goes from null to a time: revoking again, which keeps the first time,
-- announces nothing new.
create function notify_session_revoked() returns trigger
language plpgsql as $$
begin
    perform pg_notify('session_revoked', new.id::text);
    return null;
end;
$$;

create trigger session_revoked
    after update of revoked_at on sessions
    for each row
    when (old.revoked_at is null and new.revoked_at is not null)
    execute function notify_session_revoked();
