/*
 * row_format.c - rows as lines of text or CSV, the one formatting code of the
 * file sinks ("filesystem" and "filesystem-exactly-once"): reading the
 * options format and csv.field-delimiter, and appending a formatted row to a
 * byte buffer. The formats are described in connectors_int.h.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "connectors_int.h"
#include "mem.h"

int fl__row_format_init(fl__row_format *f, const fl_options *o, const char *connector,
                        const fl_schema *schema, fl_error *err) {
    memset(f, 0, sizeof *f);
    f->schema = schema;
    const char *format = fl_options_get(o, "format");
    if (format == NULL || strcmp(format, "text") == 0)
        f->csv = false;
    else if (strcmp(format, "csv") == 0)
        f->csv = true;
    else
        return fl_error_set(err, FL_ECONFIG,
                            "connector \"%s\": format must be text or csv, not \"%s\"", connector,
                            format);
    const char *delim = fl_options_get(o, "csv.field-delimiter");
    if (delim == NULL) delim = ",";
    if (strcmp(delim, "\\t") == 0) delim = "\t";
    if (strlen(delim) != 1 || delim[0] == '"' || delim[0] == '\r' || delim[0] == '\n')
        return fl_error_set(err, FL_ECONFIG,
                            "connector \"%s\": csv.field-delimiter must be one character other "
                            "than a quote, CR or LF, not \"%s\"",
                            connector, delim);
    f->delimiter = delim[0];
    return 0;
}

void fl__row_format_fini(fl__row_format *f) { fl__conn_buf_free(&f->field); }

/* Shortest decimal form that reads back as exactly d. */
static void format_double(double d, char *buf, size_t size) {
    if (isnan(d)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, size, d < 0 ? "-Infinity" : "Infinity");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) return;
    }
}

/* The text of field i (not quoted) into f->field. */
static void csv_field_text(fl__row_format *f, const fl_row *r, int i) {
    fl__conn_buf *text = &f->field;
    char tmp[64];
    text->len = 0;
    switch (fl_schema_field_type(f->schema, i)) {
    case FL_BOOLEAN:
        snprintf(tmp, sizeof tmp, "%s", fl_row_get_bool(r, i) ? "true" : "false");
        break;
    case FL_INT:
        snprintf(tmp, sizeof tmp, "%" PRId32, fl_row_get_int(r, i));
        break;
    case FL_BIGINT:
        snprintf(tmp, sizeof tmp, "%" PRId64, fl_row_get_bigint(r, i));
        break;
    case FL_DOUBLE:
        format_double(fl_row_get_double(r, i), tmp, sizeof tmp);
        break;
    case FL_TIMESTAMP:
        fl_format_timestamp(fl_row_get_timestamp(r, i), tmp, sizeof tmp);
        break;
    case FL_STRING: {
        uint32_t len;
        const char *s = fl_row_get_string(r, i, &len);
        fl__conn_buf_append(text, s, len);
        return;
    }
    case FL_BYTES: {
        uint32_t len;
        const unsigned char *p = fl_row_get_bytes(r, i, &len);
        char *at = fl__conn_buf_reserve(text, FL_BASE64_LEN((size_t)len));
        text->len += fl_base64_encode_into(p, len, at);
        return;
    }
    default:
        tmp[0] = '\0';
        break;
    }
    fl__conn_buf_append(text, tmp, strlen(tmp));
}

static void append_csv_row(fl__row_format *f, fl__conn_buf *out, const fl_row *r) {
    int n = fl_schema_num_fields(f->schema);
    char delim = f->delimiter;
    for (int i = 0; i < n; i++) {
        if (i > 0) fl__conn_buf_putc(out, delim);
        if (fl_row_is_null(r, i)) continue;
        csv_field_text(f, r, i);
        const char *text = f->field.data;
        size_t len = f->field.len;
        bool quote = false;
        for (size_t k = 0; k < len && !quote; k++)
            quote = text[k] == delim || text[k] == '"' || text[k] == '\r' || text[k] == '\n';
        if (!quote) {
            fl__conn_buf_append(out, text, len);
            continue;
        }
        fl__conn_buf_putc(out, '"');
        for (size_t k = 0; k < len; k++) {
            if (text[k] == '"') fl__conn_buf_putc(out, '"');
            fl__conn_buf_putc(out, text[k]);
        }
        fl__conn_buf_putc(out, '"');
    }
    fl__conn_buf_putc(out, '\n');
}

void fl__row_format_append(fl__row_format *f, fl__conn_buf *out, const fl_row *r) {
    if (f->csv) {
        append_csv_row(f, out, r);
    } else {
        fl__conn_buf_append_row(out, r, f->schema, true);
        fl__conn_buf_putc(out, '\n');
    }
}
