/* serve requests without a server: the bodies of /v1/classify,
 * /v1/chat/completions and /v1/completions parsed into their structs, and
 * every refusal with the HTTP status, the parameter and a message that says
 * what is wrong (400 for bad fields, 413 over a limit), plus the OpenAI
 * error shape and the Prometheus page of serve/metrics.h. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "serve/metrics.h"
#include "serve/request.h"

static const srv_limits lim = {.max_texts = 4, .max_text = 64, .max_messages = 3, .max_tokens = 100};

static int classify(const char *body, srv_classify_req *r, srv_error *e) {
    memset(e, 0, sizeof *e);
    return srv_parse_classify(body, strlen(body), &lim, r, e);
}

static int generate(const char *body, int chat, srv_gen_req *r, srv_error *e) {
    memset(e, 0, sizeof *e);
    return srv_parse_generate(body, strlen(body), chat, &lim, r, e);
}

static void classify_cases(void) {
    srv_classify_req r;
    srv_error e;
    CHECK(classify("{\"texts\": [\"a\", \"b\"], \"reason\": true, \"max_tokens\": 9}", &r, &e) == 0 && r.n == 2 &&
          !strcmp(r.ids[1], "2") && !strcmp(r.texts[0], "a") && r.reason && r.max_tokens == 9 && !r.prompt,
          "texts: %s", e.message);
    srv_classify_req_free(&r);
    CHECK(classify("{\"items\": [{\"id\": \"x\", \"text\": \"hi\"}, {\"id\": 7, \"text\": \"yo\"}, {\"text\": \"z\"}], "
                   "\"prompt\": \"phoenix\", \"model\": \"ignored\"}", &r, &e) == 0 &&
          r.n == 3 && !strcmp(r.ids[0], "x") && !strcmp(r.ids[1], "7") && !strcmp(r.ids[2], "3") &&
          !strcmp(r.prompt, "phoenix"), "items: %s", e.message);
    srv_classify_req_free(&r);
    static const struct {
        const char *body;
        int status;
        const char *param, *says;
    } bad[] = {
        {"", 400, "", "not valid JSON"},
        {"[1]", 400, "", "JSON object"},
        {"{\"texts\": \"a\"}", 400, "texts", "non-empty array"},
        {"{\"texts\": []}", 400, "texts", "non-empty array"},
        {"{}", 400, "texts", "either"},
        {"{\"texts\": [\"a\"], \"items\": []}", 400, "items", "not both"},
        {"{\"texts\": [1]}", 400, "texts", "texts[0] must be a string"},
        {"{\"texts\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}", 413, "texts", "at most 4"},
        {"{\"texts\": [\"0123456789012345678901234567890123456789012345678901234567890123456789\"]}", 413, "texts",
         "at most 64"},
        {"{\"items\": [{\"id\": \"a\", \"text\": \"x\"}, {\"id\": \"a\", \"text\": \"y\"}]}", 400, "items", "repeats"},
        {"{\"items\": [{\"id\": \"\", \"text\": \"x\"}]}", 400, "items", "non-empty"},
        {"{\"items\": [{\"id\": 1.5, \"text\": \"x\"}]}", 400, "items", "integer"},
        {"{\"items\": [3]}", 400, "items", "must be an object"},
        {"{\"texts\": [\"a\"], \"reason\": 1}", 400, "reason", "true or false"},
        {"{\"texts\": [\"a\"], \"max_tokens\": 0}", 400, "max_tokens", "from 1 to 100"},
        {"{\"texts\": [\"a\"], \"max_tokens\": 101}", 400, "max_tokens", "from 1 to 100"},
        {"{\"texts\": [\"a\"], \"prompt\": 3}", 400, "prompt", "template"},
        {"{\"texts\": [\"a\\u0000b\"]}", 400, "", "NUL"},
        {"{\"texts\": [\"\xff\"]}", 400, "", "UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = classify(bad[i].body, &r, &e);
        CHECK(rc == -1 && e.status == bad[i].status && !strcmp(e.param, bad[i].param) && strstr(e.message, bad[i].says),
              "classify %s: %d %s [%s] %s", bad[i].body, e.status, e.type, e.param, e.message);
        CHECK(r.n == 0 && r.ids == NULL, "nothing left to free after a refusal");
    }
}

static void generate_cases(void) {
    srv_gen_req r;
    srv_error e;
    CHECK(generate("{\"model\": \"m\", \"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": "
                   "\"user\", \"content\": [{\"type\": \"text\", \"text\": \"hi \"}, {\"type\": \"text\", \"text\": "
                   "\"there\"}]}], \"max_tokens\": 5, \"temperature\": 0, \"top_p\": 0.5, \"seed\": 42, \"stop\": "
                   "[\"a\", \"bc\"], \"n\": 1, \"logprobs\": true, \"top_logprobs\": 3, \"stream\": true, "
                   "\"stream_options\": {\"include_usage\": true}, \"user\": \"u\", \"presence_penalty\": 0}",
                   1, &r, &e) == 0 &&
          r.n_msgs == 2 && !strcmp(r.msgs[1].content, "hi there") && !strcmp(r.msgs[0].role, "system") &&
          r.max_tokens == 5 && r.temperature == 0 && r.top_p == 0.5 && r.has_seed && r.seed == 42 && r.n_stop == 2 &&
          !strcmp(r.stop[1], "bc") && r.logprobs && r.top_logprobs == 3 && r.stream && r.include_usage,
          "chat: %s", e.message);
    srv_gen_req_free(&r);
    CHECK(generate("{\"messages\": [{\"role\": \"developer\", \"content\": null}, {\"role\": \"user\", \"content\": "
                   "\"x\"}], \"max_completion_tokens\": 7, \"stop\": \"END\"}", 1, &r, &e) == 0 &&
          !strcmp(r.msgs[0].role, "system") && !strcmp(r.msgs[0].content, "") && r.max_tokens == 7 &&
          r.temperature == 1 && r.top_p == 1 && !r.logprobs && r.n_stop == 1 && !r.has_seed,
          "chat defaults: %s", e.message);
    srv_gen_req_free(&r);
    CHECK(generate("{\"prompt\": [\"Once upon\"], \"logprobs\": 2}", 0, &r, &e) == 0 && !strcmp(r.prompt, "Once upon") &&
          r.max_tokens == -1 && r.logprobs && r.top_logprobs == 2, "completions: %s", e.message);
    srv_gen_req_free(&r);
    static const struct {
        const char *body;
        int chat, status;
        const char *param, *says;
    } bad[] = {
        {"{\"messages\": []}", 1, 400, "messages", "non-empty array"},
        {"{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}", 1, 400, "messages", "system, user or assistant"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": 3}]}", 1, 400, "messages", "string or an array"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}", 1, 400, "messages", "text"},
        {"{\"messages\": [{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\","
         "\"content\":\"a\"},{\"role\":\"user\",\"content\":\"a\"}]}", 1, 413, "messages", "at most 3"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"n\": 2}", 1, 400, "n", "n = 1"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 101}", 1, 400, "max_tokens", "to 100"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": 3}", 1, 400, "temperature", "<= 2"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"top_p\": 0}", 1, 400, "top_p", "> 0"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"top_logprobs\": 2}", 1, 400, "top_logprobs",
         "needs"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"logprobs\": true, \"top_logprobs\": 21}", 1, 400,
         "top_logprobs", "0 to 20"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}", 1, 400,
         "stop", "at most 4"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": [\"\"]}", 1, 400, "stop", "non-empty"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"tools\": []}", 1, 400, "tools", "array of 1 to"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"frequency_penalty\": 1}", 1, 400,
         "frequency_penalty", "only 0"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"response_format\": {\"type\": \"json_object\"}}", 1,
         400, "response_format", "text"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stream\": \"yes\"}", 1, 400, "stream", "true or"},
        {"{\"prompt\": 5}", 0, 400, "prompt", "string"},
        {"{\"prompt\": [\"a\", \"b\"]}", 0, 400, "prompt", "string"},
        {"{\"prompt\": \"x\", \"echo\": true}", 0, 400, "echo", "not supported"},
        {"{\"prompt\": \"x\", \"best_of\": 2}", 0, 400, "best_of", "best_of = 1"},
        {"{\"prompt\": \"x\", \"logprobs\": -1}", 0, 400, "logprobs", "0 to 20"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = generate(bad[i].body, bad[i].chat, &r, &e);
        CHECK(rc == -1 && e.status == bad[i].status && !strcmp(e.param, bad[i].param) && strstr(e.message, bad[i].says),
              "%s %s: %d [%s] %s", bad[i].chat ? "chat" : "completions", bad[i].body, e.status, e.param, e.message);
        CHECK(r.msgs == NULL && r.n_stop == 0 && r.prompt == NULL && r.call == NULL, "nothing left to free after a refusal");
    }
}

static void error_shape(void) {
    srv_error e;
    srv_fail(&e, 400, "invalid_request_error", "max_tokens", "context_length_exceeded", "too \"long\": %d", 5);
    char *s = srv_error_json(&e);
    cJSON *o = cJSON_Parse(s), *er = cJSON_GetObjectItem(o, "error");
    CHECK(er && !strcmp(cJSON_GetObjectItem(er, "message")->valuestring, "too \"long\": 5") &&
          !strcmp(cJSON_GetObjectItem(er, "type")->valuestring, "invalid_request_error") &&
          !strcmp(cJSON_GetObjectItem(er, "param")->valuestring, "max_tokens") &&
          !strcmp(cJSON_GetObjectItem(er, "code")->valuestring, "context_length_exceeded"), "error shape: %s", s);
    cJSON_Delete(o);
    free(s);
    srv_fail(&e, 503, "server_error", NULL, NULL, "busy");
    s = srv_error_json(&e);
    CHECK(s && strstr(s, "\"param\":null") && strstr(s, "\"code\":null"), "nulls: %s", s);
    free(s);
}

static void metrics_page(void) {
    srv_metrics *m = srv_metrics_create();
    srv_metrics_request(m, SRV_EP_CLASSIFY, 200, 0.2);
    srv_metrics_request(m, SRV_EP_CLASSIFY, 200, 3);
    srv_metrics_request(m, SRV_EP_CHAT, 503, 0.001);
    srv_metrics_tokens(m, 100, 25, 7);
    srv_metrics_step(m, 3);
    srv_metrics_ttft(m, 0.04);
    srv_gauges g = {.queue_depth = 2, .active = 5, .ready = 1, .n_devices = 1, .device_names = {"gpu \"0\""},
                    .weights = {1000}, .context = {50}};
    char *page = srv_metrics_render(m, &g);
    const char *want[] = {
        "phi3vk_requests_total{endpoint=\"/v1/classify\",status=\"200\"} 2\n",
        "phi3vk_requests_total{endpoint=\"/v1/chat/completions\",status=\"503\"} 1\n",
        "phi3vk_prompt_tokens_total 100\n", "phi3vk_prompt_tokens_reused_total 25\n", "phi3vk_generated_tokens_total 7\n",
        "phi3vk_batch_size_bucket{le=\"2\"} 0\n", "phi3vk_batch_size_bucket{le=\"4\"} 1\n",
        "phi3vk_time_to_first_token_seconds_bucket{le=\"0.05\"} 1\n",
        "phi3vk_request_duration_seconds_bucket{endpoint=\"/v1/classify\",le=\"0.25\"} 1\n",
        "phi3vk_request_duration_seconds_bucket{endpoint=\"/v1/classify\",le=\"+Inf\"} 2\n",
        "phi3vk_request_duration_seconds_count{endpoint=\"/v1/classify\"} 2\n",
        "phi3vk_queue_depth 2\n", "phi3vk_sequences_active 5\n", "phi3vk_ready 1\n",
        "phi3vk_device_memory_bytes{device=\"0\",name=\"gpu \\\"0\\\"\",kind=\"weights\"} 1000\n",
        "# TYPE phi3vk_batch_size histogram\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(page && strstr(page, want[i]), "metrics has %s", want[i]);
    free(page);
    srv_metrics_destroy(m);
}

int main(void) {
    classify_cases();
    generate_cases();
    error_shape();
    metrics_page();
    return test_finish();
}
