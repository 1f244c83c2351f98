-- Audit events per actor and action.
SELECT
    actor.email AS actor_email,
    action,
    count(*) AS events
FROM audit
GROUP BY actor.email, action
ORDER BY actor_email, action;
