/* Phi-3 config.json / generation_config.json (see config.h). */
#include "model/config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/mapfile.h"

#define PHI3_END_ID 32007          /* <|end|>: ends every assistant turn */
#define CONFIG_MAX_BYTES (16u << 20)

/* Short description of a JSON value for "found ..." in messages. */
static const char *found(const cJSON *v, char *buf, size_t n) {
    if (!v) return "nothing (missing)";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNumber(v)) {
        snprintf(buf, n, "%.17g", v->valuedouble);
        return buf;
    }
    if (cJSON_IsString(v)) {
        snprintf(buf, n, "\"%.40s\"", v->valuestring);
        return buf;
    }
    if (cJSON_IsArray(v)) return "an array";
    return "an object";
}

/* Integer field in [lo, hi]. Absent (or null when null_ok): *out = def,
 * or an error when required. */
static int get_int(const cJSON *root, const char *key, int required, int null_ok, long lo, long hi, int def,
                   int *out, const char *file, char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    char buf[64];
    if (!v || (null_ok && cJSON_IsNull(v))) {
        if (required) return fmt_file_error(err, errlen, file, "field %s: expected an integer in [%ld, %ld], found %s", key, lo, hi, found(v, buf, sizeof buf));
        *out = def;
        return 0;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
        return fmt_file_error(err, errlen, file, "field %s: expected an integer in [%ld, %ld], found %s", key, lo, hi, found(v, buf, sizeof buf));
    *out = (int)d;
    return 0;
}

/* Number field, finite, in (lo, hi]; absent: def. */
static int get_num(const cJSON *root, const char *key, double lo, double hi, double def, double *out,
                   const char *file, char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    char buf[64];
    if (!v) {
        *out = def;
        return 0;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d > lo && d <= hi))
        return fmt_file_error(err, errlen, file, "field %s: expected a number in (%g, %g], found %s", key, lo, hi, found(v, buf, sizeof buf));
    *out = d;
    return 0;
}

/* Array of head_dim/2 positive finite numbers. */
static int get_factors(const cJSON *rs, const char *key, int n, float *out, const char *file, char *err, size_t errlen) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(rs, key);
    char buf[64];
    if (!cJSON_IsArray(a))
        return fmt_file_error(err, errlen, file, "field rope_scaling.%s: expected an array of head_dim/2 = %d numbers, found %s", key, n, found(a, buf, sizeof buf));
    int count = cJSON_GetArraySize(a);
    if (count != n)
        return fmt_file_error(err, errlen, file, "field rope_scaling.%s: expected head_dim/2 = %d numbers, found %d", key, n, count);
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a) {
        double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        if (!(d > 0 && d < 1e9))
            return fmt_file_error(err, errlen, file, "field rope_scaling.%s[%d]: expected a positive number, found %s", key, i, found(v, buf, sizeof buf));
        out[i++] = (float)d;
    }
    return 0;
}

static int parse_rope_scaling(phi3_config *cfg, const cJSON *root, const char *file, char *err, size_t errlen) {
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    char buf[64];
    cfg->rope_scaling = PHI3_ROPE_NONE;
    cfg->rope_attn_factor = 0;
    if (!rs || cJSON_IsNull(rs)) return 0;
    if (!cJSON_IsObject(rs)) return fmt_file_error(err, errlen, file, "field rope_scaling: expected null or an object, found %s", found(rs, buf, sizeof buf));
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rs, "type");
    if (!t) t = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!cJSON_IsString(t) || (strcmp(t->valuestring, "longrope") && strcmp(t->valuestring, "su")))
        return fmt_file_error(err, errlen, file, "field rope_scaling.type: expected \"longrope\" or \"su\" (other scalings are not supported), found %s",
                    found(t, buf, sizeof buf));
    cfg->rope_scaling = PHI3_ROPE_LONGROPE;
    int half = cfg->head_dim / 2;
    if (get_factors(rs, "short_factor", half, cfg->short_factor, file, err, errlen) ||
        get_factors(rs, "long_factor", half, cfg->long_factor, file, err, errlen))
        return -1;
    const cJSON *af = cJSON_GetObjectItemCaseSensitive(rs, "attention_factor");
    if (af && !cJSON_IsNull(af)) {
        double d = cJSON_IsNumber(af) ? af->valuedouble : NAN;
        if (!(d > 0 && d < 100))
            return fmt_file_error(err, errlen, file, "field rope_scaling.attention_factor: expected a number in (0, 100), found %s", found(af, buf, sizeof buf));
        cfg->rope_attn_factor = d;
    }
    return 0;
}

/* Reads an id field that may be null, an integer, or (eos) a list whose
 * first element is taken. */
static int get_id(const cJSON *root, const char *key, int def, int *out, const char *file, char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (cJSON_IsArray(v)) v = cJSON_GetArrayItem(v, 0);
    if (v && cJSON_IsNull(v)) {
        *out = -1;
        return 0;
    }
    if (!v) {
        *out = def;
        return 0;
    }
    char buf[64];
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= 0 && d < PHI3_MAX_DIM * 100.0) || d != floor(d))
        return fmt_file_error(err, errlen, file, "field %s: expected a token id (integer >= 0) or null, found %s", key, found(v, buf, sizeof buf));
    *out = (int)d;
    return 0;
}

/* head_dim = hidden / n_heads: exact, even (RoPE rotates pairs), bounded. */
static int derive_head_dim(phi3_config *cfg, const char *file, char *err, size_t errlen) {
    if (cfg->n_heads < 1 || cfg->hidden % cfg->n_heads)
        return fmt_file_error(err, errlen, file, "field num_attention_heads: expected a divisor of hidden_size (%d), found %d", cfg->hidden, cfg->n_heads);
    cfg->head_dim = cfg->hidden / cfg->n_heads;
    if (cfg->head_dim > PHI3_MAX_HEAD_DIM || cfg->head_dim % 2)
        return fmt_file_error(err, errlen, file, "field num_attention_heads: head_dim = hidden_size / num_attention_heads = %d (expected even and <= %d)",
                               cfg->head_dim, PHI3_MAX_HEAD_DIM);
    return 0;
}

static int parse_fields(phi3_config *cfg, const cJSON *root, const char *file, char *err, size_t errlen) {
    char buf[64];
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (!cJSON_IsString(mt) || strcmp(mt->valuestring, "phi3"))
        return fmt_file_error(err, errlen, file, "field model_type: expected \"phi3\", found %s", found(mt, buf, sizeof buf));
    const long M = PHI3_MAX_DIM;
    if (get_int(root, "hidden_size", 1, 0, 1, M, 0, &cfg->hidden, file, err, errlen) ||
        get_int(root, "intermediate_size", 1, 0, 1, M, 0, &cfg->intermediate, file, err, errlen) ||
        get_int(root, "num_hidden_layers", 1, 0, 1, M, 0, &cfg->n_layers, file, err, errlen) ||
        get_int(root, "num_attention_heads", 1, 0, 1, M, 0, &cfg->n_heads, file, err, errlen) ||
        get_int(root, "num_key_value_heads", 0, 1, 1, M, cfg->n_heads, &cfg->n_kv_heads, file, err, errlen) ||
        get_int(root, "vocab_size", 1, 0, 1, M, 0, &cfg->vocab, file, err, errlen) ||
        get_int(root, "max_position_embeddings", 0, 0, 1, M, 4096, &cfg->max_pos, file, err, errlen) ||
        get_int(root, "original_max_position_embeddings", 0, 1, 1, M, cfg->max_pos, &cfg->orig_max_pos, file, err, errlen) ||
        get_int(root, "sliding_window", 0, 1, 0, M, 0, &cfg->sliding_window, file, err, errlen) ||
        get_num(root, "rms_norm_eps", 0, 0.5, 1e-5, &cfg->rms_eps, file, err, errlen) ||
        get_num(root, "rope_theta", 0, 1e12, 10000.0, &cfg->rope_theta, file, err, errlen) ||
        get_id(root, "bos_token_id", 1, &cfg->bos_id, file, err, errlen) ||
        get_id(root, "eos_token_id", 32000, &cfg->eos_id, file, err, errlen) ||
        get_id(root, "pad_token_id", 32000, &cfg->pad_id, file, err, errlen))
        return -1;
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(root, "tie_word_embeddings");
    if (tie && !cJSON_IsBool(tie)) return fmt_file_error(err, errlen, file, "field tie_word_embeddings: expected true or false, found %s", found(tie, buf, sizeof buf));
    cfg->tie_word_embeddings = cJSON_IsTrue(tie);
    /* head_dim is needed to check the factor arrays */
    if (derive_head_dim(cfg, file, err, errlen)) return -1;
    return parse_rope_scaling(cfg, root, file, err, errlen);
}

static cJSON *parse_json(const char *json, size_t len, const char *file, char *err, size_t errlen) {
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= json && at <= json + len ? (long)(at - json) : -1;
        fmt_file_error(err, errlen, file, "invalid JSON near byte %ld", off);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        fmt_file_error(err, errlen, file, "expected a JSON object at the top level");
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

int phi3_config_parse(phi3_config *cfg, const char *json, size_t len, const char *file, char *err, size_t errlen) {
    memset(cfg, 0, sizeof *cfg);
    cJSON *root = parse_json(json, len, file, err, errlen);
    if (!root) return -1;
    int rc = parse_fields(cfg, root, file, err, errlen);
    cJSON_Delete(root);
    if (rc) return -1;
    phi3_config_default_stops(cfg);
    return phi3_config_validate(cfg, file, err, errlen);
}

int phi3_config_parse_generation(phi3_config *cfg, const char *json, size_t len, const char *file, char *err,
                                 size_t errlen) {
    cJSON *root = parse_json(json, len, file, err, errlen);
    if (!root) return -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "eos_token_id");
    int ids[PHI3_MAX_STOP_IDS], n = 0, rc = 0;
    char buf[64];
    if (!v || cJSON_IsNull(v)) goto done;
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > PHI3_MAX_STOP_IDS) {
        rc = fmt_file_error(err, errlen, file, "field eos_token_id: expected at most %d ids, found %d", PHI3_MAX_STOP_IDS, cJSON_GetArraySize(v));
        goto done;
    }
    const cJSON *e = cJSON_IsArray(v) ? v->child : v;
    for (; e; e = cJSON_IsArray(v) ? e->next : NULL) {
        double d = cJSON_IsNumber(e) ? e->valuedouble : NAN;
        if (!(d >= 0 && d < cfg->vocab) || d != floor(d)) {
            rc = fmt_file_error(err, errlen, file, "field eos_token_id: expected token ids in [0, %d) (vocab_size), found %s", cfg->vocab, found(e, buf, sizeof buf));
            goto done;
        }
        ids[n++] = (int)d;
    }
    if (n == 0) {
        rc = fmt_file_error(err, errlen, file, "field eos_token_id: expected an id or a non-empty list of ids, found an empty list");
        goto done;
    }
    cfg->n_stop = n;
    memcpy(cfg->stop_ids, ids, (size_t)n * sizeof ids[0]);
done:
    cJSON_Delete(root);
    return rc;
}

void phi3_config_default_stops(phi3_config *cfg) {
    cfg->n_stop = 0;
    if (cfg->eos_id >= 0 && cfg->eos_id < cfg->vocab) cfg->stop_ids[cfg->n_stop++] = cfg->eos_id;
    if (PHI3_END_ID < cfg->vocab && cfg->eos_id != PHI3_END_ID) cfg->stop_ids[cfg->n_stop++] = PHI3_END_ID;
}

int phi3_config_validate(phi3_config *cfg, const char *file, char *err, size_t errlen) {
    const int M = PHI3_MAX_DIM;
    struct { const char *name; int v; } sizes[] = {
        {"hidden_size", cfg->hidden}, {"intermediate_size", cfg->intermediate}, {"num_hidden_layers", cfg->n_layers},
        {"num_attention_heads", cfg->n_heads}, {"num_key_value_heads", cfg->n_kv_heads}, {"vocab_size", cfg->vocab},
        {"max_position_embeddings", cfg->max_pos}, {"original_max_position_embeddings", cfg->orig_max_pos},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].v < 1 || sizes[i].v > M)
            return fmt_file_error(err, errlen, file, "field %s: expected an integer in [1, %d], found %d", sizes[i].name, M, sizes[i].v);
    if (derive_head_dim(cfg, file, err, errlen)) return -1;
    if (cfg->n_heads % cfg->n_kv_heads)
        return fmt_file_error(err, errlen, file, "field num_key_value_heads: expected a divisor of num_attention_heads (%d), found %d", cfg->n_heads, cfg->n_kv_heads);
    if (cfg->sliding_window < 0 || cfg->sliding_window > M)
        return fmt_file_error(err, errlen, file, "field sliding_window: expected null or an integer in [0, %d], found %d", M, cfg->sliding_window);
    if (!(cfg->rms_eps > 0 && cfg->rms_eps <= 0.5))
        return fmt_file_error(err, errlen, file, "field rms_norm_eps: expected a number in (0, 0.5], found %g", cfg->rms_eps);
    if (!(cfg->rope_theta > 0 && cfg->rope_theta <= 1e12))
        return fmt_file_error(err, errlen, file, "field rope_theta: expected a number in (0, 1e12], found %g", cfg->rope_theta);
    if (cfg->orig_max_pos > cfg->max_pos)
        return fmt_file_error(err, errlen, file, "field original_max_position_embeddings: expected <= max_position_embeddings (%d), found %d",
                    cfg->max_pos, cfg->orig_max_pos);
    struct { const char *name; int v; } ids[] = {{"bos_token_id", cfg->bos_id}, {"eos_token_id", cfg->eos_id}, {"pad_token_id", cfg->pad_id}};
    for (size_t i = 0; i < 3; i++)
        if (ids[i].v < -1 || ids[i].v >= cfg->vocab)
            return fmt_file_error(err, errlen, file, "field %s: expected a token id in [0, %d) (vocab_size) or null, found %d", ids[i].name, cfg->vocab, ids[i].v);
    if (cfg->n_stop < 0 || cfg->n_stop > PHI3_MAX_STOP_IDS)
        return fmt_file_error(err, errlen, file, "stop ids: expected at most %d, found %d", PHI3_MAX_STOP_IDS, cfg->n_stop);
    for (int i = 0; i < cfg->n_stop; i++)
        if (cfg->stop_ids[i] < 0 || cfg->stop_ids[i] >= cfg->vocab)
            return fmt_file_error(err, errlen, file, "stop id %d: expected a token id in [0, %d)", cfg->stop_ids[i], cfg->vocab);
    if (cfg->rope_scaling == PHI3_ROPE_NONE) {
        cfg->rope_attn_factor = 1.0;
        return 0;
    }
    if (cfg->rope_scaling != PHI3_ROPE_LONGROPE)
        return fmt_file_error(err, errlen, file, "field rope_scaling: unknown scaling %d", (int)cfg->rope_scaling);
    for (int i = 0; i < cfg->head_dim / 2; i++)
        if (!(cfg->short_factor[i] > 0 && cfg->short_factor[i] < 1e9f) || !(cfg->long_factor[i] > 0 && cfg->long_factor[i] < 1e9f))
            return fmt_file_error(err, errlen, file, "field rope_scaling: factor %d: expected positive finite short/long factors, found %g / %g", i,
                        cfg->short_factor[i], cfg->long_factor[i]);
    if (cfg->rope_attn_factor == 0) {
        double scale = (double)cfg->max_pos / cfg->orig_max_pos;
        cfg->rope_attn_factor = scale <= 1.0 || cfg->orig_max_pos < 2 ? 1.0 : sqrt(1.0 + log(scale) / log((double)cfg->orig_max_pos));
    }
    if (!(cfg->rope_attn_factor > 0 && cfg->rope_attn_factor < 100))
        return fmt_file_error(err, errlen, file, "field rope_scaling.attention_factor: expected a number in (0, 100), found %g", cfg->rope_attn_factor);
    return 0;
}

int phi3_config_load(phi3_config *cfg, const char *dir, char *err, size_t errlen) {
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = fmt_read_file(path, CONFIG_MAX_BYTES, &len, err, errlen);
    if (!text) return -1;
    int rc = phi3_config_parse(cfg, text, len, path, err, errlen);
    free(text);
    if (rc) return -1;
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    if (!fmt_is_file(path)) return 0;
    if (!(text = fmt_read_file(path, CONFIG_MAX_BYTES, &len, err, errlen))) return -1;
    rc = phi3_config_parse_generation(cfg, text, len, path, err, errlen);
    free(text);
    return rc;
}

/* ---- writers ---- */

static void add_id(cJSON *o, const char *key, int id) {
    if (id < 0) cJSON_AddNullToObject(o, key);
    else cJSON_AddNumberToObject(o, key, id);
}

static cJSON *factors_json(const float *f, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(f[i]));
    return a;
}

char *phi3_config_to_json(const phi3_config *cfg, const char *torch_dtype) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("Phi3ForCausalLM"));
    cJSON_AddFalseToObject(o, "attention_bias");
    cJSON_AddNumberToObject(o, "attention_dropout", 0.0);
    add_id(o, "bos_token_id", cfg->bos_id);
    cJSON_AddNumberToObject(o, "embd_pdrop", 0.0);
    add_id(o, "eos_token_id", cfg->eos_id);
    cJSON_AddStringToObject(o, "hidden_act", "silu");
    cJSON_AddNumberToObject(o, "hidden_size", cfg->hidden);
    cJSON_AddNumberToObject(o, "initializer_range", 0.02);
    cJSON_AddNumberToObject(o, "intermediate_size", cfg->intermediate);
    cJSON_AddNumberToObject(o, "max_position_embeddings", cfg->max_pos);
    cJSON_AddStringToObject(o, "model_type", "phi3");
    cJSON_AddNumberToObject(o, "num_attention_heads", cfg->n_heads);
    cJSON_AddNumberToObject(o, "num_hidden_layers", cfg->n_layers);
    cJSON_AddNumberToObject(o, "num_key_value_heads", cfg->n_kv_heads);
    cJSON_AddNumberToObject(o, "original_max_position_embeddings", cfg->orig_max_pos);
    add_id(o, "pad_token_id", cfg->pad_id);
    cJSON_AddNumberToObject(o, "resid_pdrop", 0.0);
    cJSON_AddNumberToObject(o, "rms_norm_eps", cfg->rms_eps);
    if (cfg->rope_scaling == PHI3_ROPE_LONGROPE) {
        cJSON *rs = cJSON_AddObjectToObject(o, "rope_scaling");
        cJSON_AddItemToObject(rs, "long_factor", factors_json(cfg->long_factor, cfg->head_dim / 2));
        cJSON_AddItemToObject(rs, "short_factor", factors_json(cfg->short_factor, cfg->head_dim / 2));
        cJSON_AddStringToObject(rs, "type", "longrope");
    } else {
        cJSON_AddNullToObject(o, "rope_scaling");
    }
    cJSON_AddNumberToObject(o, "rope_theta", cfg->rope_theta);
    if (cfg->sliding_window > 0) cJSON_AddNumberToObject(o, "sliding_window", cfg->sliding_window);
    else cJSON_AddNullToObject(o, "sliding_window");
    cJSON_AddBoolToObject(o, "tie_word_embeddings", cfg->tie_word_embeddings);
    cJSON_AddStringToObject(o, "torch_dtype", torch_dtype);
    cJSON_AddStringToObject(o, "transformers_version", "4.40.2");
    cJSON_AddTrueToObject(o, "use_cache");
    cJSON_AddNumberToObject(o, "vocab_size", cfg->vocab);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

char *phi3_config_generation_to_json(const phi3_config *cfg) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddTrueToObject(o, "_from_model_config");
    add_id(o, "bos_token_id", cfg->bos_id);
    /* no stop ids (a vocabulary too small for Phi-3's): null, which the
     * reader takes as "none"; an empty list is rejected there */
    if (cfg->n_stop > 0) {
        cJSON *eos = cJSON_AddArrayToObject(o, "eos_token_id");
        for (int i = 0; eos && i < cfg->n_stop; i++) cJSON_AddItemToArray(eos, cJSON_CreateNumber(cfg->stop_ids[i]));
    } else {
        cJSON_AddNullToObject(o, "eos_token_id");
    }
    add_id(o, "pad_token_id", cfg->pad_id);
    cJSON_AddStringToObject(o, "transformers_version", "4.41.1");
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}
