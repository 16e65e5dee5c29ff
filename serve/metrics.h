/* serve metrics: what GET /metrics answers, in Prometheus' text exposition
 * format (version 0.0.4). Counters and histograms are updated by the HTTP
 * and engine threads (one lock); gauges are read when the page is made.
 *
 *   phi3vk_requests_total{endpoint,status}        counter
 *   phi3vk_prompt_tokens_total                    counter (prompt tokens of finished requests)
 *   phi3vk_prompt_tokens_reused_total             counter (of those, taken from the KV cache)
 *   phi3vk_generated_tokens_total                 counter
 *   phi3vk_queue_depth, phi3vk_sequences_active   gauges (items waiting / in the engines)
 *   phi3vk_batch_size                             histogram: sequences per engine step
 *   phi3vk_time_to_first_token_seconds            histogram: submit -> first token or classify result
 *   phi3vk_request_duration_seconds{endpoint}     histogram: request received -> response made
 *   phi3vk_device_memory_bytes{device,kind}       gauge: weights, kv_cache_scratch
 *   phi3vk_ready                                  gauge: 1 when the model is loaded */
#ifndef PHI3VK_SERVE_METRICS_H
#define PHI3VK_SERVE_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct srv_metrics srv_metrics;

/* The endpoints counted apart; anything else is "other". */
enum { SRV_EP_CLASSIFY, SRV_EP_CHAT, SRV_EP_COMPLETIONS, SRV_EP_MODELS, SRV_EP_HEALTH, SRV_EP_METRICS, SRV_EP_OTHER,
       SRV_N_EP };
extern const char *const srv_endpoint_names[SRV_N_EP];

/* NULL when out of memory. */
srv_metrics *srv_metrics_create(void);
void srv_metrics_destroy(srv_metrics *m);

/* A request answered with status after seconds. */
void srv_metrics_request(srv_metrics *m, int endpoint, int status, double seconds);
/* Tokens of a finished job. */
void srv_metrics_tokens(srv_metrics *m, long long prompt, long long reused, long long generated);
void srv_metrics_ttft(srv_metrics *m, double seconds);
/* One engine step of n sequences. */
void srv_metrics_step(srv_metrics *m, int n);

/* Values read at render time. */
typedef struct srv_gauges {
    int queue_depth, active, ready;
    int n_devices;
    const char *device_names[16];
    uint64_t weights[16], context[16];     /* bytes per device */
} srv_gauges;

/* The page, malloc'ed (NULL when out of memory). */
char *srv_metrics_render(srv_metrics *m, const srv_gauges *g);

#endif
