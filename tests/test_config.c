/* config.json / generation_config.json: the real Phi-3-mini files parse to
 * the published sizes; every bad field gives an error that names the file
 * and the field; the writer's output parses back to the same struct. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "model/config.h"
#include "formats/mapfile.h"

static const char *MINI =
    "{\"model_type\":\"phi3\",\"hidden_size\":3072,\"intermediate_size\":8192,\"num_hidden_layers\":32,"
    "\"num_attention_heads\":32,\"num_key_value_heads\":32,\"vocab_size\":32064,\"rms_norm_eps\":1e-05,"
    "\"rope_theta\":10000.0,\"max_position_embeddings\":4096,\"original_max_position_embeddings\":4096,"
    "\"sliding_window\":2047,\"rope_scaling\":null,\"bos_token_id\":1,\"eos_token_id\":32000,"
    "\"pad_token_id\":32000,\"tie_word_embeddings\":false}";

/* MINI with the text `from` replaced by `to`. */
static char *patched(const char *from, const char *to) {
    const char *at = strstr(MINI, from);
    if (!at) {
        fprintf(stderr, "test bug: %s not in MINI\n", from);
        exit(2);
    }
    size_t n = strlen(MINI) - strlen(from) + strlen(to) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%.*s%s%s", (int)(at - MINI), MINI, to, at + strlen(from));
    return s;
}

/* Parsing MINI patched must fail with an error containing every word. */
static void expect_error(const char *from, const char *to, const char *w1, const char *w2) {
    char *text = patched(from, to);
    phi3_config cfg;
    char err[512] = "";
    int rc = phi3_config_parse(&cfg, text, strlen(text), "cfg/config.json", err, sizeof err);
    CHECK(rc == -1, "%s -> %s accepted", from, to);
    CHECK(strstr(err, "cfg/config.json"), "no file name in '%s'", err);
    CHECK(strstr(err, w1), "'%s' missing in '%s'", w1, err);
    if (w2) CHECK(strstr(err, w2), "'%s' missing in '%s'", w2, err);
    free(text);
}

static void test_mini(void) {
    phi3_config c;
    char err[512] = "";
    CHECK(phi3_config_parse(&c, MINI, strlen(MINI), "mini", err, sizeof err) == 0, "%s", err);
    CHECK(c.hidden == 3072 && c.intermediate == 8192 && c.n_layers == 32, "sizes");
    CHECK(c.n_heads == 32 && c.n_kv_heads == 32 && c.head_dim == 96, "heads %d/%d/%d", c.n_heads, c.n_kv_heads, c.head_dim);
    CHECK(c.vocab == 32064 && c.max_pos == 4096 && c.orig_max_pos == 4096 && c.sliding_window == 2047, "vocab/ctx");
    CHECK(c.rms_eps == 1e-5 && c.rope_theta == 10000.0, "eps/theta");
    CHECK(c.rope_scaling == PHI3_ROPE_NONE && c.rope_attn_factor == 1.0, "rope");
    CHECK(c.bos_id == 1 && c.eos_id == 32000 && c.pad_id == 32000 && !c.tie_word_embeddings, "ids");
    CHECK(c.n_stop == 2 && c.stop_ids[0] == 32000 && c.stop_ids[1] == 32007, "default stops %d", c.n_stop);

    const char *gen = "{\"bos_token_id\": 1, \"eos_token_id\": [32000, 32001, 32007], \"pad_token_id\": 32000}";
    CHECK(phi3_config_parse_generation(&c, gen, strlen(gen), "gen", err, sizeof err) == 0, "%s", err);
    CHECK(c.n_stop == 3 && c.stop_ids[0] == 32000 && c.stop_ids[1] == 32001 && c.stop_ids[2] == 32007, "judge stops");
    const char *gen1 = "{\"eos_token_id\": 32007}";
    CHECK(phi3_config_parse_generation(&c, gen1, strlen(gen1), "gen", err, sizeof err) == 0 && c.n_stop == 1 && c.stop_ids[0] == 32007, "single eos");
    const char *bad = "{\"eos_token_id\": [32000, 99999]}";
    CHECK(phi3_config_parse_generation(&c, bad, strlen(bad), "g/generation_config.json", err, sizeof err) == -1 &&
          strstr(err, "g/generation_config.json") && strstr(err, "eos_token_id") && strstr(err, "99999"), "%s", err);
    const char *empty = "{\"eos_token_id\": []}";
    CHECK(phi3_config_parse_generation(&c, empty, strlen(empty), "g", err, sizeof err) == -1 && strstr(err, "eos_token_id"), "%s", err);
    CHECK(phi3_config_parse_generation(&c, "{", 1, "g.json", err, sizeof err) == -1 && strstr(err, "JSON"), "%s", err);
}

static void test_bad_fields(void) {
    expect_error("\"phi3\"", "\"llama\"", "model_type", "\"llama\"");
    expect_error("\"model_type\":\"phi3\",", "", "model_type", "missing");
    expect_error("\"hidden_size\":3072", "\"hidden_size\":3000", "num_attention_heads", "3000");
    expect_error("\"hidden_size\":3072", "\"hidden_size\":-5", "hidden_size", "-5");
    expect_error("\"hidden_size\":3072", "\"hidden_size\":\"big\"", "hidden_size", "\"big\"");
    expect_error("\"hidden_size\":3072", "\"hidden_size\":30.5", "hidden_size", "30.5");
    expect_error("\"hidden_size\":3072,", "", "hidden_size", "missing");
    expect_error("\"intermediate_size\":8192", "\"intermediate_size\":1e9", "intermediate_size", "1000000000");
    expect_error("\"num_key_value_heads\":32", "\"num_key_value_heads\":5", "num_key_value_heads", "5");
    expect_error("\"num_hidden_layers\":32", "\"num_hidden_layers\":0", "num_hidden_layers", "0");
    expect_error("\"vocab_size\":32064", "\"vocab_size\":2000000", "vocab_size", "2000000");
    expect_error("\"vocab_size\":32064", "\"vocab_size\":1000", "eos_token_id", "1000"); /* eos 32000 >= vocab */
    expect_error("\"rms_norm_eps\":1e-05", "\"rms_norm_eps\":0", "rms_norm_eps", NULL);
    expect_error("\"rope_theta\":10000.0", "\"rope_theta\":-1", "rope_theta", NULL);
    expect_error("\"sliding_window\":2047", "\"sliding_window\":-1", "sliding_window", NULL);
    expect_error("\"original_max_position_embeddings\":4096", "\"original_max_position_embeddings\":8192",
                 "original_max_position_embeddings", "8192");
    expect_error("\"tie_word_embeddings\":false", "\"tie_word_embeddings\":3", "tie_word_embeddings", NULL);
    expect_error("\"rope_scaling\":null", "\"rope_scaling\":{\"type\":\"linear\",\"factor\":2}", "rope_scaling.type", "linear");
    expect_error("\"rope_scaling\":null", "\"rope_scaling\":{\"type\":\"su\",\"short_factor\":[1,2],\"long_factor\":[1,2]}",
                 "short_factor", "48");
    expect_error("\"rope_scaling\":null", "\"rope_scaling\":7", "rope_scaling", NULL);
    expect_error("\"rope_theta\":10000.0,", "\"rope_theta\":10000.0,,", "JSON", NULL);
    expect_error("{", "[", "JSON", NULL);
}

static char *longrope_json(int n_short, int n_long, const char *bad_value) {
    size_t cap = 8192;
    char *s = malloc(cap);
    int k = snprintf(s, cap, "{\"model_type\":\"phi3\",\"hidden_size\":256,\"intermediate_size\":512,\"num_hidden_layers\":2,"
                             "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":32064,"
                             "\"max_position_embeddings\":131072,\"original_max_position_embeddings\":4096,"
                             "\"rope_scaling\":{\"type\":\"longrope\",\"short_factor\":[");
    for (int i = 0; i < n_short; i++) k += snprintf(s + k, cap - k, "%s%s", i ? "," : "", i == 3 && bad_value ? bad_value : "1.0");
    k += snprintf(s + k, cap - k, "],\"long_factor\":[");
    for (int i = 0; i < n_long; i++) k += snprintf(s + k, cap - k, "%s%g", i ? "," : "", 1.0 + i * 0.5);
    snprintf(s + k, cap - k, "]}}");
    return s;
}

static void test_longrope_and_roundtrip(void) {
    phi3_config c, d;
    char err[512] = "";
    char *j = longrope_json(32, 32, NULL); /* head_dim 64 */
    CHECK(phi3_config_parse(&c, j, strlen(j), "lr", err, sizeof err) == 0, "%s", err);
    CHECK(c.rope_scaling == PHI3_ROPE_LONGROPE && c.head_dim == 64 && c.n_kv_heads == 2, "longrope");
    CHECK(c.long_factor[31] == 16.5f && c.short_factor[0] == 1.0f, "factors %g", c.long_factor[31]);
    /* sqrt(1 + ln(32) / ln(4096)) = sqrt(1 + 5/12) */
    CHECK(c.rope_attn_factor > 1.19023 && c.rope_attn_factor < 1.19024, "attn factor %.6f", c.rope_attn_factor);
    CHECK(c.sliding_window == 0 && c.rms_eps == 1e-5, "defaults");
    free(j);
    j = longrope_json(32, 31, NULL);
    CHECK(phi3_config_parse(&c, j, strlen(j), "lr.json", err, sizeof err) == -1 && strstr(err, "long_factor") && strstr(err, "31"), "%s", err);
    free(j);
    j = longrope_json(32, 32, "-2");
    CHECK(phi3_config_parse(&c, j, strlen(j), "lr.json", err, sizeof err) == -1 && strstr(err, "short_factor[3]"), "%s", err);
    free(j);

    /* writer -> parser gives back the same values, with and without LongRoPE */
    j = longrope_json(32, 32, NULL);
    phi3_config_parse(&c, j, strlen(j), "lr", err, sizeof err);
    free(j);
    for (int pass = 0; pass < 2; pass++) {
        if (pass) c.rope_scaling = PHI3_ROPE_NONE, c.sliding_window = 2047, c.tie_word_embeddings = 1, c.pad_id = -1;
        char *out = phi3_config_to_json(&c, "bfloat16");
        CHECK(out && strstr(out, "\"Phi3ForCausalLM\"") && strstr(out, "\"torch_dtype\":\t\"bfloat16\""), "writer output");
        int rc = phi3_config_parse(&d, out, strlen(out), "written", err, sizeof err);
        CHECK(rc == 0, "%s", err);
        if (!pass) CHECK(!memcmp(c.long_factor, d.long_factor, sizeof c.long_factor) && d.rope_scaling == PHI3_ROPE_LONGROPE, "factors round trip");
        CHECK(d.hidden == c.hidden && d.n_kv_heads == c.n_kv_heads && d.max_pos == c.max_pos && d.orig_max_pos == c.orig_max_pos &&
              d.sliding_window == c.sliding_window && d.tie_word_embeddings == c.tie_word_embeddings && d.pad_id == c.pad_id &&
              d.rms_eps == c.rms_eps && d.rope_theta == c.rope_theta && d.vocab == c.vocab, "round trip pass %d", pass);
        free(out);
    }
    c.n_stop = 3, c.stop_ids[0] = 32000, c.stop_ids[1] = 32001, c.stop_ids[2] = 32007;
    char *gen = phi3_config_generation_to_json(&c);
    d.n_stop = 0;
    CHECK(gen && phi3_config_parse_generation(&d, gen, strlen(gen), "gen", err, sizeof err) == 0 && d.n_stop == 3 && d.stop_ids[1] == 32001,
          "generation round trip: %s", err);
    free(gen);
    /* issue 14 row 13: a vocabulary too small for any stop id (synth --vocab
     * 32000) wrote "eos_token_id": [], which this reader rejects */
    c.n_stop = 0;
    gen = phi3_config_generation_to_json(&c);
    d.n_stop = 1, d.stop_ids[0] = 5;
    CHECK(gen && !strstr(gen, "[]") && phi3_config_parse_generation(&d, gen, strlen(gen), "gen", err, sizeof err) == 0 &&
              d.n_stop == 1,
          "no stop ids: written as null and read back: %s / %s", gen ? gen : "(null)", err);
    free(gen);
}

static void test_shared_data(void) {
    const char *data = getenv("PHI3VK_DATA");
    char path[4096];
    if (!data || !fmt_is_dir(data)) {
        test_skip_part("PHI3VK_DATA absent: the real config files are not checked");
        return;
    }
    char err[512] = "";
    size_t len;
    snprintf(path, sizeof path, "%s/config/phi3-mini-4k-instruct.config.json", data);
    char *text = fmt_read_file(path, 1 << 20, &len, err, sizeof err);
    CHECK(text, "%s", err);
    if (!text) return;
    phi3_config c;
    CHECK(phi3_config_parse(&c, text, len, path, err, sizeof err) == 0, "%s", err);
    CHECK(c.hidden == 3072 && c.n_layers == 32 && c.n_heads == 32 && c.intermediate == 8192 && c.vocab == 32064 &&
          c.rope_theta == 10000.0 && c.sliding_window == 2047 && c.head_dim == 96, "phi3-mini sizes");
    free(text);
    snprintf(path, sizeof path, "%s/config/grounded-ai_phi3-toxicity-judge-merge.generation_config.json", data);
    text = fmt_read_file(path, 1 << 20, &len, err, sizeof err);
    CHECK(text && phi3_config_parse_generation(&c, text, len, path, err, sizeof err) == 0, "%s", err);
    CHECK(c.n_stop == 3 && c.stop_ids[0] == 32000 && c.stop_ids[1] == 32001 && c.stop_ids[2] == 32007, "judge stop ids");
    free(text);
    CHECK(phi3_config_load(&c, "/nonexistent-dir", err, sizeof err) == -1 && strstr(err, "/nonexistent-dir/config.json"), "%s", err);
}

int main(void) {
    test_mini();
    test_bad_fields();
    test_longrope_and_roundtrip();
    test_shared_data();
    return test_finish();
}
