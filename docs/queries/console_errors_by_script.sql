-- ERROR lines in the console logs archived with the invocations (include_logs='failed' or 'all'), per script.
SELECT
    script.name AS script,
    count(*) AS error_lines
FROM invocations, UNNEST(_consoleLogLines) AS lines(line)
WHERE line.level = 'ERROR'
GROUP BY script.name
ORDER BY error_lines DESC, script;
