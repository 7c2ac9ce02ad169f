-- The intake's duplicate check on SQLite is answered by the writer's own index of the cases
-- reported in the window (crates/store/src/recent.rs), which reads each case once as it is
-- written. This index was one more B-tree in which every report dirtied a page of its own.
DROP INDEX case_record_duplicate_idx;
