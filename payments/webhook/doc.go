// Package webhook delivers deposit events to merchants from the durable
// outbox in PostgreSQL: fan-out of deposit_events into webhook_deliveries,
// workers that send them (iqpay JSON or litepay GET callbacks), signed with
// the merchant's secret, retried with capped backoff, in order per deposit.
//
// Run is the whole loop; ListDeliveries and Redeliver serve the API;
// ValidateTarget and CheckOwnQuery check callback URLs when merchants
// register them; Sign, Verify and VerifyRequest are the signature scheme,
// bound to each delivery's flavour, event and endpoint (docs/webhooks.md).
package webhook
