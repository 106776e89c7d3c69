-- Indexes for the cleanup sweep (src/cleanup.rs), which deletes in small
-- batches: without them each batch would scan the whole table while holding
-- the write lock.
create index refresh_tokens_expires_at on refresh_tokens (expires_at);
create index sessions_expires_at on sessions (expires_at);
-- Only revoked sessions are in it, so it stays as small as what is left to sweep.
create index sessions_revoked on sessions (revoked_at) where revoked_at is not null;
