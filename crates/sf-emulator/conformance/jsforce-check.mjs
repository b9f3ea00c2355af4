// Runs jsforce (an independent Salesforce client) against the Callpop emulator.
// Usage: node jsforce-check.mjs <instance_url> <access_token> [<refresh_token> <login_url> <client_id>]
// With the optional arguments it also expires the session (control API) and checks that jsforce
// refreshes it on the 401 by itself. Prints one JSON summary line; exits non-zero on any failure.
import jsforce from 'jsforce';

const [instanceUrl, accessToken, refreshToken, loginUrl, clientId] = process.argv.slice(2);
if (!instanceUrl || !accessToken) {
  console.error('usage: node jsforce-check.mjs <instance_url> <access_token>');
  process.exit(2);
}

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

const conn = new jsforce.Connection({ instanceUrl, accessToken, version: '64.0' });
const summary = {};

try {
  const limits = await conn.limits();
  check(limits.DailyApiRequests && typeof limits.DailyApiRequests.Max === 'number', 'limits has DailyApiRequests.Max');
  summary.dailyApiMax = limits.DailyApiRequests.Max;

  const search = await conn.search(
    'FIND {4155550100 OR 14155550100} IN PHONE FIELDS RETURNING Contact(Id, Name, Phone), Lead(Id, Name, Phone), Account(Id, Name, Phone)'
  );
  check(Array.isArray(search.searchRecords), 'search returns searchRecords');
  summary.searchCount = search.searchRecords.length;
  summary.searchTypes = [...new Set(search.searchRecords.map((r) => r.attributes.type))].sort();

  const query = await conn.query('SELECT Id, Name FROM Account ORDER BY Name LIMIT 3');
  check(query.done === true && Array.isArray(query.records), 'query returns records');
  summary.queryTotalSize = query.totalSize;

  const created = await conn.sobject('Task').create({
    Subject: 'jsforce call',
    TaskSubtype: 'Call',
    CallType: 'Inbound',
    CallDurationInSeconds: 42,
    CallObject: 'jsforce-1',
  });
  check(created.success === true && typeof created.id === 'string', 'single create succeeds');
  summary.createdId = created.id;

  const batch = await conn.sobject('Task').create(
    [1, 2, 3].map((n) => ({ Subject: `jsforce batch ${n}`, CallType: 'Outbound', CallObject: `jsforce-batch-${n}` })),
    { allOrNone: true }
  );
  check(Array.isArray(batch) && batch.length === 3 && batch.every((r) => r.success), 'collection create succeeds');
  summary.batchIds = batch.map((r) => r.id);

  const task = await conn.sobject('Task').retrieve(created.id);
  check(task.Id === created.id && task.CallObject === 'jsforce-1', 'read back the Task');
  summary.readBack = { Id: task.Id, Status: task.Status, Priority: task.Priority, CallDurationInSeconds: task.CallDurationInSeconds };

  summary.apiUsage = conn.limitInfo && conn.limitInfo.apiUsage;
  check(summary.apiUsage && summary.apiUsage.used > 0, 'jsforce parsed Sforce-Limit-Info');

  if (refreshToken && loginUrl && clientId) {
    const conn2 = new jsforce.Connection({
      oauth2: { loginUrl, clientId, redirectUri: 'http://localhost:1717/OauthRedirect' },
      instanceUrl,
      accessToken,
      refreshToken,
      version: '64.0',
    });
    let refreshed = false;
    conn2.on('refresh', () => {
      refreshed = true;
    });
    const expired = await fetch(`${instanceUrl}/__emulator/expire-tokens`, { method: 'POST' });
    check(expired.ok, 'control API expired the tokens');
    const again = await conn2.query("SELECT Id FROM Task WHERE CallObject = 'jsforce-1'");
    check(refreshed, 'jsforce refreshed the expired session on its own');
    check(again.totalSize === 1, 'the replayed query found the Task');
    summary.refreshed = refreshed;
  }

  console.log(JSON.stringify(summary));
} catch (err) {
  console.error(`jsforce conformance failed: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}
