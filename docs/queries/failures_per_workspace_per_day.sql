-- Failed invocations per workspace and day: every ended, unsuccessful run (neither FINISHED nor RUNNING).
SELECT
    dt AS day,
    workspace.name AS workspace,
    count(*) AS failures
FROM invocations
WHERE executionStatus NOT IN ('FINISHED', 'RUNNING')
GROUP BY dt, workspace.name
ORDER BY day, workspace;
