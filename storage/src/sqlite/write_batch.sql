-- How SQLite applies a batch of registrations and records (dialogue states, audit rows): the
-- batch is inserted into this per-connection table in order, and the trigger of each row's
-- kind applies it as it arrives, so every write sees what the writes before it left. The
-- writer connection creates these objects when it opens; `write_queue.rs` empties the table,
-- fills it and reads the outcomes, in one statement list inside one transaction.

CREATE TEMP TABLE IF NOT EXISTS write_batch (
    seq      INTEGER PRIMARY KEY,
    -- register, save_dialogue, clear_dialogue or audit
    kind     TEXT NOT NULL,
    -- the write's values, a JSON object
    args     TEXT NOT NULL,
    -- a registration's outcome: Registered, Updated, or taken (the ID number is someone
    -- else's; nothing written)
    outcome  TEXT,
    -- whether the registration is the retry of one applied before (its first outcome, nothing
    -- applied again)
    replayed INTEGER NOT NULL DEFAULT 0
);

CREATE TEMP TRIGGER IF NOT EXISTS write_batch_register AFTER INSERT ON write_batch
WHEN NEW.kind = 'register'
BEGIN
    -- A message that registered before gets its first outcome back.
    UPDATE write_batch SET replayed = 1, outcome = json_extract(f.outcome, '$')
        FROM effects AS f
        WHERE write_batch.seq = NEW.seq AND f.callback_key = NEW.args ->> 'callback_key'
          AND f.kind = 'register';

    -- New when neither the userid nor the ID number is known; the same person again when
    -- both name one member; otherwise the ID number is another member's.
    UPDATE write_batch SET outcome = CASE
            WHEN NOT EXISTS (SELECT 1 FROM members WHERE userid = NEW.args ->> 'userid')
             AND NOT EXISTS (SELECT 1 FROM members WHERE id_hash = NEW.args ->> 'id_hash')
                THEN 'Registered'
            WHEN EXISTS (SELECT 1 FROM members WHERE userid = NEW.args ->> 'userid'
                                                AND id_hash = NEW.args ->> 'id_hash')
                THEN 'Updated'
            ELSE 'taken'
        END
        WHERE seq = NEW.seq AND replayed = 0;

    INSERT INTO members (userid, name, id_hash, id_mask, phone_enc, phone_mask, union_code,
                         registered_at)
        SELECT args ->> 'userid', args ->> 'name', args ->> 'id_hash', args ->> 'id_mask',
               args ->> 'phone_enc', args ->> 'phone_mask', args ->> 'union_code',
               args ->> 'registered_at'
        FROM write_batch WHERE seq = NEW.seq AND replayed = 0 AND outcome = 'Registered';

    UPDATE members SET name = NEW.args ->> 'name', phone_enc = NEW.args ->> 'phone_enc',
            phone_mask = NEW.args ->> 'phone_mask', union_code = NEW.args ->> 'union_code'
        WHERE userid = NEW.args ->> 'userid' AND id_hash = NEW.args ->> 'id_hash'
          AND (SELECT replayed = 0 AND outcome = 'Updated' FROM write_batch
               WHERE seq = NEW.seq);

    -- Settled as `effects::settle` does: the outcome as JSON. A refused ID number settles
    -- nothing, so a retry is judged again.
    INSERT INTO effects (callback_key, kind, outcome)
        SELECT args ->> 'callback_key', 'register', json_quote(outcome) FROM write_batch
        WHERE seq = NEW.seq AND replayed = 0 AND outcome IN ('Registered', 'Updated');
END;

CREATE TEMP TRIGGER IF NOT EXISTS write_batch_save_dialogue AFTER INSERT ON write_batch
WHEN NEW.kind = 'save_dialogue'
BEGIN
    INSERT INTO dialogues (chat, userid, state, updated_at, callback_key, reply)
        VALUES (NEW.args ->> 'chat', NEW.args ->> 'user', NEW.args ->> 'state',
                NEW.args ->> 'updated_at', NEW.args ->> 'callback_key', NEW.args ->> 'reply')
        ON CONFLICT (chat, userid) DO UPDATE SET state = excluded.state,
            updated_at = excluded.updated_at, callback_key = excluded.callback_key,
            reply = excluded.reply;
END;

CREATE TEMP TRIGGER IF NOT EXISTS write_batch_clear_dialogue AFTER INSERT ON write_batch
WHEN NEW.kind = 'clear_dialogue'
BEGIN
    DELETE FROM dialogues WHERE chat = NEW.args ->> 'chat' AND userid = NEW.args ->> 'user';
END;

CREATE TEMP TRIGGER IF NOT EXISTS write_batch_audit AFTER INSERT ON write_batch
WHEN NEW.kind = 'audit'
BEGIN
    -- Audit events are unique per message and action (`records::audit`).
    INSERT INTO audit_log (at, actor, action, subject, detail, callback_key)
        VALUES (NEW.args ->> 'at', NEW.args ->> 'actor', NEW.args ->> 'action',
                NEW.args ->> 'subject', NEW.args ->> 'detail', NEW.args ->> 'callback_key')
        ON CONFLICT DO NOTHING;
END;
