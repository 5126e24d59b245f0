"""Which of a backup's places a restore reads first, and how messages name them."""

from __future__ import annotations

from dflow_tui.core.copies import CopyFacts, Place, copy_at, copy_refusal, kept_copy_at, restore_order

INTERNAL = Place.of("internal")
B2, R2, S3 = Place.of("b2"), Place.of("r2"), Place.of("s3")


def _said(primary: Place, copies: list[CopyFacts]) -> list[str]:
    return [source.describe() for source in restore_order(primary, copies)]


def test_the_servers_disk_comes_first_then_the_primary_then_the_other_copies_in_order():
    copies = [
        CopyFacts(1, R2, "succeeded"),
        CopyFacts(2, INTERNAL, "succeeded"),
        CopyFacts(3, S3, "succeeded"),
    ]
    assert _said(B2, copies) == [
        "the copy on the server's disk",
        "the primary in b2",
        "the copy in r2",
        "the copy in s3",
    ]
    assert [s.copy_id for s in restore_order(B2, copies)] == [2, None, 1, 3]


def test_an_internal_primary_is_read_first_and_its_copies_after_it():
    copies = [CopyFacts(7, R2, "succeeded"), CopyFacts(8, B2, "succeeded")]
    assert _said(INTERNAL, copies) == ["the primary on the server's disk", "the copy in r2", "the copy in b2"]


def test_only_copies_that_succeeded_and_are_still_kept_are_tried():
    copies = [
        CopyFacts(1, INTERNAL, "failed"),
        CopyFacts(2, R2, "in-progress"),
        CopyFacts(3, S3, "succeeded", removed=True),
        CopyFacts(4, Place.of("gcs"), "succeeded"),
    ]
    assert _said(B2, copies) == ["the primary in b2", "the copy in gcs"]


def test_a_backup_without_copies_is_read_from_its_primary_only():
    [only] = restore_order(B2, [])
    assert only.primary and only.describe() == "the primary in b2"


def test_backup_copy_is_refused_for_a_backup_that_did_not_succeed_or_at_its_primarys_place():
    assert copy_refusal(12, "failed", False, B2, R2) == (
        "Backup 12 is failed: only a backup that succeeded is copied"
    )
    assert copy_refusal(12, "in-progress", False, B2, R2) == (
        "Backup 12 is in progress: only a backup that succeeded is copied"
    )
    assert copy_refusal(12, "succeeded", True, B2, R2) == "Backup 12 is deleted: there is nothing to copy"
    assert copy_refusal(12, "succeeded", False, B2, B2) == (
        "Backup 12 is stored in b2 already (its primary): a copy goes to another place"
    )
    assert copy_refusal(12, "succeeded", False, B2, INTERNAL) is None


def test_the_copy_at_a_place_is_found_whatever_became_of_it_and_kept_only_when_succeeded():
    copies = [
        CopyFacts(1, R2, "failed"),
        CopyFacts(2, INTERNAL, "succeeded"),
        CopyFacts(3, S3, "succeeded", True),
    ]
    assert copy_at(R2, copies) == copies[0] and kept_copy_at(R2, copies) is None
    assert kept_copy_at(INTERNAL, copies) == copies[1]
    assert copy_at(S3, copies) == copies[2] and kept_copy_at(S3, copies) is None
    assert copy_at(B2, copies) is None
