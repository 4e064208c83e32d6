// Names the manifests share with code that is not in this branch yet. Held here, in one place, until
// the webhook branch is merged; then import its constant instead (injector/admission).
/** HTTPS path the admission server serves AdmissionReviews on (webhook branch). */
export const webhookPath = "/mutate";
/** Service the webhook is reached through; the webhook branch's `--webhook-service` default. */
export const webhookServiceName = "lameduck-webhook";
