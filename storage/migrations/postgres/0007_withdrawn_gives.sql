-- Gives to an entry that is rejected after its approval stay in the ledger, marked with when
-- and why the entry was withdrawn; approving the entry again clears the mark. The index finds
-- an entry's gives without reading the whole ledger.
ALTER TABLE ledger ADD COLUMN withdrawn_at TIMESTAMPTZ;
ALTER TABLE ledger ADD COLUMN withdrawn_reason TEXT;
CREATE INDEX ledger_by_entry ON ledger (entry_code);
