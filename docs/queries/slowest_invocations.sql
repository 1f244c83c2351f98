-- The ten slowest invocations (duration in ms; a running invocation has none yet).
SELECT
    invocationId,
    startTime,
    workspace.name AS workspace,
    script.name AS script,
    executionStatus,
    duration
FROM invocations
WHERE duration IS NOT NULL
ORDER BY duration DESC, invocationId
LIMIT 10;
