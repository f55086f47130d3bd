-- Gives to an entry that is rejected after its approval stay in the ledger, marked with when
-- and why the entry was withdrawn; approving the entry again clears the mark. Millisecond
-- timestamps, as `at`.
ALTER TABLE ledger ADD COLUMN withdrawn_at INTEGER;
ALTER TABLE ledger ADD COLUMN withdrawn_reason TEXT;
CREATE INDEX ledger_by_entry ON ledger (entry_code);
