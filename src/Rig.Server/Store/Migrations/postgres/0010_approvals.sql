-- Rig schema v10 (postgres): approvals of model revisions (four eyes; docs/SECURITY.md, Approvals). Every decision is kept
-- (history); an operator's latest decision on a revision is the one that counts, so a reject can later become an
-- approve. Rows are never updated or deleted. (v8 and v9 are other work's.) Keep in step with sqlite/0010.
CREATE TABLE approvals (
    id BIGSERIAL PRIMARY KEY,
    rev         BIGINT    NOT NULL,
    operator    TEXT      NOT NULL,
    decision    TEXT      NOT NULL,   -- approve | reject
    message     TEXT      NOT NULL,
    at          BIGINT    NOT NULL
);
CREATE INDEX ix_approvals_rev ON approvals (rev, id);
