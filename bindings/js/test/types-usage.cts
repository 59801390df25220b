// CommonJS users: `require` resolves the .d.cts types (types.test.mjs).
import webhooks = require('@menon/webhooks');

const event: webhooks.WebhookEvent = webhooks.verify('{}', {}, 'whsec_x');
const headers: webhooks.SignedHeaders = webhooks.sign(event, ['whsec_x']);
export const checked: boolean = webhooks.verifySignature('{}', headers['X-Menon-Signature'], 'whsec_x');
export const wh = new webhooks.Webhook('whsec_x');
