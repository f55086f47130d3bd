//! The storage contract, written once and run against every backend: each case below becomes
//! `<suite>::sqlite::<case>` (a fresh SQLite file) and `<suite>::postgres::<case>` (a fresh
//! database on the server named by `RALLYBOT_TEST_DATABASE_URL`; skipped with one notice when it
//! is unset), and each case of the conversation's `Store` also `domain::memory::<case>` (a fresh
//! `MemoryStore`). The suites: the conversation's `Store` (`domain`), the bot's `Operations`
//! (`operations`), and the store `serve` opens, with its read cache and lock (`serving`).

// The cases are test code spread over helper modules, where clippy's in-test allowance does
// not reach.
#![allow(clippy::unwrap_used)]

mod cache;
mod callbacks;
mod chats;
mod concurrency;
mod dashboard;
mod entries;
mod exports;
mod fixtures;
mod flags;
mod harness;
mod instances;
mod lock;
mod members;
mod once;
mod outbox;
mod ranking;
mod records;
mod scoring;
mod snapshots;
mod upgrade;
mod upgrade_replies;

/// One backend's module of a suite: each case opens its store with `$open` (an `Option`:
/// `None` skips the case) and is given `store.$given()`; `$given` is the store (`domain` for the
/// conversation's view, `store` for the whole of it), `seeded` (the store plus what the bot's
/// plumbing does) or the serving `target`.
macro_rules! backend {
    (
        $backend:ident,
        $open:expr,
        $($given:ident => $($module:ident :: $case:ident),+ $(,)?);+ $(;)?
    ) => {
        mod $backend {
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(store) = $open else {
                        return;
                    };
                    crate::$module::$case(store.$given()).await;
                    store.finish().await;
                }
            )+)+
        }
    };
}

/// Declares a suite of cases for SQLite and PostgreSQL opened the `$opening` way, and for
/// `MemoryStore` too when the suite says `and memory`.
macro_rules! contract {
    ($suite:ident, $opening:ident and memory: $($cases:tt)+) => {
        mod $suite {
            contract!(@sql $opening: $($cases)+);
            backend!(memory, Some(crate::harness::Memory::open()), $($cases)+);
        }
    };
    ($suite:ident, $opening:ident: $($cases:tt)+) => {
        mod $suite {
            contract!(@sql $opening: $($cases)+);
        }
    };
    (@sql $opening:ident: $($cases:tt)+) => {
        use crate::harness::{Db, Opening};
        backend!(sqlite, Some(super::Db::sqlite(super::Opening::$opening).await), $($cases)+);
        backend!(postgres, super::Db::postgres(super::Opening::$opening).await, $($cases)+);
    };
}

contract! {
    domain, Plain and memory:
    domain =>
    members::registering_again_updates_name_phone_and_union,
    members::an_id_number_belongs_to_one_user,
    members::the_holder_of_an_id_number_is_known_before_registering,
    members::a_user_cannot_change_id_number,
    members::unknown_member_is_none,
    members::registrations_are_counted_per_union,
    entries::codes_are_allocated_per_track_in_order,
    entries::a_link_enters_a_track_once,
    entries::variants_of_a_link_enter_a_track_once,
    entries::entries_created_approved_rank_at_once,
    entries::pending_entries_come_oldest_first,
    entries::review_approves_or_rejects,
    entries::approving_twice_changes_nothing,
    entries::gives_to_a_withdrawn_entry_stay_marked,
    entries::a_rejected_entry_can_be_submitted_again,
    entries::entries_of_lists_submitted_and_entered_newest_first,
    entries::approved_entries_are_counted_per_union,
    scoring::votes_are_capped_per_entry_per_day,
    scoring::a_counted_give_is_audited_in_the_same_write,
    scoring::a_refused_give_leaves_the_score_time_alone,
    scoring::likes_are_capped_per_member_per_track_per_day,
    scoring::a_new_day_resets_the_limits,
    scoring::gives_need_an_existing_approved_entry,
    scoring::usage_lists_what_was_used_today,
    scoring::reading_minutes_become_points,
    ranking::ties_go_to_the_earlier_time_then_the_code,
    ranking::only_the_best_entry_of_an_entrant_ranks,
    ranking::units_rank_like_members,
    ranking::places_agree_with_a_recomputed_order,
    ranking::standings_agree_with_rank_of_and_top,
    records::reports_are_summed_per_union_and_metric,
    records::participation_counts_every_give_report_and_registration,
    records::the_audit_log_reads_back_in_order_by_pages,
    chats::dialogues_are_kept_per_chat_and_user,
    concurrency::two_hundred_single_votes_count_five,
    concurrency::two_hundred_likes_count_three,
    concurrency::one_id_number_races_to_one_registration,
    concurrency::concurrent_submissions_get_distinct_codes,
    concurrency::the_same_link_raced_enters_once,
    concurrency::crowd_voting_keeps_scores_and_places_exact,
    concurrency::refused_gives_amid_a_crowd_refuse_alone,
    once::a_retried_give_counts_once_with_its_first_outcome,
    once::retried_writes_take_effect_once,
    once::twins_racing_take_effect_once,
    exports::members_are_read_by_userid_in_batches,
    exports::the_ledger_reads_in_keyset_pages_with_the_message_of_each_give,
    snapshots::a_changed_snapshot_is_a_new_version_never_an_edit,
    snapshots::frozen_rankings_keep_the_frozen_places_and_scores,
    snapshots::result_inputs_move_with_every_write_that_can_change_frozen_results,
    snapshots::approved_entries_are_every_approved_entry_of_a_track_ranked_or_not,
    snapshots::approved_entries_read_amid_votes_list_every_entry_once,
    flags::a_flag_takes_its_gives_out_of_the_score_as_doubtful,
    flags::deciding_a_flag_clears_or_voids_it_once,
    flags::the_pass_reads_recent_gives_with_voter_and_entrant;
    seeded =>
    chats::groups_are_learned_and_refreshed,
    outbox::a_push_key_is_queued_once,
}

contract! {
    operations, Plain:
    store =>
    callbacks::replies_are_recorded_and_read_back_in_batches,
    callbacks::purging_forgets_old_replies_and_effects,
    callbacks::a_reply_shared_by_old_and_recent_callbacks_lives_as_long_as_the_recent,
    outbox::enqueueing_a_key_twice_is_a_no_op,
    outbox::due_pushes_are_claimed_in_order_under_a_lease,
    outbox::pushes_are_retried_sent_or_failed,
    outbox::a_released_push_comes_back_without_an_attempt,
    instances::tokens_are_saved_and_replaced,
    instances::a_lease_is_held_until_it_expires,
    instances::job_marks_remember_the_last_occurrence,
    instances::a_lease_from_a_later_clock_is_taken_over,
    instances::the_rehearsal_clock_is_shared_with_a_version_per_move,
    concurrency::many_concurrent_writers_all_succeed,
    concurrency::concurrent_claimers_never_share_a_push,
    dashboard::activity_is_counted_per_hour_and_the_ledger_by_id_range,
    dashboard::pushes_are_counted_per_status,
}

contract! {
    serving, Serving:
    domain =>
    cache::a_member_read_after_registering_is_fresh,
    cache::a_dialogue_read_after_saving_or_clearing_is_fresh,
    cache::standings_and_top_follow_gives_readings_and_reviews,
    cache::reads_racing_writes_never_keep_a_stale_value,
}

contract! {
    serving_lock, Serving:
    target =>
    lock::a_database_is_served_once_until_closed,
}
