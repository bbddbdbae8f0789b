/* What generating locally costs against an API: the background article's arithmetic
   (ARTICLE.md, "Cost arithmetic"), for llm bench --cost. Pure functions over plain numbers;
   tests/test_pull.c includes this file to check the article's figures.

   The article counts money as follows, and so does this file:
   - API: tokens a day x price per million, input and output apart; a month is 30 days and a
     year 12 such months (360 days): 1 M + 1 M tokens a day at $0.50 / $1.50 is $2 a day, $720
     a year.
   - Electricity: watts x hours a day x price per kWh, whatever the volume (the machine is on for
     those hours): 700 W x 8 h x $0.15 = $0.84 a day, $25.20 a month.
   - Break-even: the hardware price over what a year of local generation saves, i.e. the API's
     yearly bill less the yearly electricity.
   What the article leaves out and the measured speed adds: the cost of a million generated
   tokens on this machine (its electricity at the measured tokens/s, plus the hardware paid off
   over some years of running the stated hours a day), and the hours a day the volume needs. */
#include "common.h"

#include <math.h>
#include <string.h>

void cli_cost_default_inputs(cli_cost_inputs *in) {
    memset(in, 0, sizeof *in);
    in->hw_price = 4200; /* two RTX 4090s, the article's 70B build */
    in->watts = 700;
    in->hours_per_day = 8;
    in->kwh_price = 0.15;
    in->api_in = 0.50;
    in->api_out = 1.50;
    in->tokens_in = 1e6;
    in->tokens_out = 1e6;
    in->years = 3;
}

void cli_cost_compute(const cli_cost_inputs *in, cli_cost *out) {
    double saved_year, tokens_day = in->tokens_in + in->tokens_out;
    memset(out, 0, sizeof *out);
    out->api_day = in->tokens_in / 1e6 * in->api_in + in->tokens_out / 1e6 * in->api_out;
    out->api_year = out->api_day * CLI_COST_DAYS_PER_YEAR;
    out->api_per_mtok = tokens_day > 0 ? out->api_day / tokens_day * 1e6 : 0;
    out->elec_day = in->watts / 1000 * in->hours_per_day * in->kwh_price;
    out->elec_year = out->elec_day * CLI_COST_DAYS_PER_YEAR;
    out->breakeven_years_no_elec = out->api_year > 0 ? in->hw_price / out->api_year : INFINITY;
    saved_year = out->api_year - out->elec_year;
    out->breakeven_years = saved_year > 0 ? in->hw_price / saved_year : INFINITY;
    if (in->tg_tps > 0) {
        double hours_per_mtok = 1e6 / in->tg_tps / 3600;
        double lifetime_hours = in->years * CLI_COST_DAYS_PER_YEAR * in->hours_per_day;
        out->local_elec_per_mtok = in->watts / 1000 * hours_per_mtok * in->kwh_price;
        out->local_per_mtok = out->local_elec_per_mtok;
        if (lifetime_hours > 0) out->local_per_mtok += in->hw_price / lifetime_hours * hours_per_mtok;
        else out->local_per_mtok = INFINITY;
        out->hours_needed = in->tokens_out / in->tg_tps / 3600;
        if (in->pp_tps > 0) out->hours_needed += in->tokens_in / in->pp_tps / 3600;
    }
}

const char *cli_cost_fmt_duration(double years, char *buf, size_t size) {
    if (!isfinite(years) || years < 0) snprintf(buf, size, "never");
    else if (years >= 1) snprintf(buf, size, "%.1f years", years);
    else if (years >= 0.25) snprintf(buf, size, "%.1f months", years * 12);
    else if (years * CLI_COST_DAYS_PER_YEAR >= 14) snprintf(buf, size, "%.1f weeks", years * CLI_COST_DAYS_PER_YEAR / 7);
    else snprintf(buf, size, "%.1f days", years * CLI_COST_DAYS_PER_YEAR);
    return buf;
}

/* "$4,200.00": dollars with two decimals and thousands separators. */
static const char *cost_money(double v, char *buf, size_t size) {
    char digits[64];
    int n, lead, i, at = 0;
    snprintf(digits, sizeof digits, "%.2f", fabs(v));
    n = (int)strlen(digits) - 3; /* digits before the point */
    if (n < 1 || n > 40 || size < 64) { /* not finite, or too large for separators */
        snprintf(buf, size, "$%.2f", v);
        return buf;
    }
    if (v < 0) buf[at++] = '-';
    buf[at++] = '$';
    lead = n % 3 ? n % 3 : 3;
    for (i = 0; i < n; i++) {
        if (i >= lead && (i - lead) % 3 == 0) buf[at++] = ',';
        buf[at++] = digits[i];
    }
    snprintf(buf + at, size - (size_t)at, "%s", digits + n);
    return buf;
}

/* "1,000,000" */
static const char *cost_count(double v, char *buf, size_t size) {
    cost_money(v, buf, size);
    memmove(buf, buf + 1, strlen(buf)); /* drop the '$' */
    buf[strlen(buf) - 3] = 0;           /* and the cents */
    return buf;
}

void cli_cost_print(FILE *f, const cli_cost_inputs *in, const cli_cost *c) {
    char a[64], b[64], d[64], e[64];
    fprintf(f, "cost, with these assumptions (each an option of llm bench --cost):\n");
    fprintf(f, "  hardware      %s once (--hw-price)\n", cost_money(in->hw_price, a, sizeof a));
    if (in->kwh_price > 0)
        fprintf(f, "  electricity   %g W for %g h a day at %s per kWh (--watts, --hours, --kwh-price)\n", in->watts,
                in->hours_per_day, cost_money(in->kwh_price, a, sizeof a));
    else fprintf(f, "  electricity   not counted (--no-electricity or --kwh-price 0); %g h a day (--hours)\n", in->hours_per_day);
    fprintf(f, "  API prices    %s input, %s output per million tokens (--api-in, --api-out)\n",
            cost_money(in->api_in, a, sizeof a), cost_money(in->api_out, b, sizeof b));
    fprintf(f, "  volume        %s input and %s output tokens a day (--tokens-in, --tokens-out)\n",
            cost_count(in->tokens_in, a, sizeof a), cost_count(in->tokens_out, b, sizeof b));
    fprintf(f, "  calendar      months of %d days, years of 12 months (%d days)\n", CLI_COST_DAYS_PER_MONTH,
            CLI_COST_DAYS_PER_YEAR);
    if (in->tg_tps > 0)
        fprintf(f, "  speed         %.2f tokens/s generating%s; hardware paid off over %g years (--years)\n", in->tg_tps,
                in->pp_tps > 0 ? "" : " (prompt speed unknown: input tokens not timed)", in->years);
    fprintf(f, "\n");
    fprintf(f, "  API           %s a day, %s a month, %s a year (%s per million tokens at this mix)\n",
            cost_money(c->api_day, a, sizeof a), cost_money(c->api_day * CLI_COST_DAYS_PER_MONTH, b, sizeof b),
            cost_money(c->api_year, d, sizeof d), cost_money(c->api_per_mtok, e, sizeof e));
    fprintf(f, "  electricity   %s a day, %s a month, %s a year\n", cost_money(c->elec_day, a, sizeof a),
            cost_money(c->elec_day * CLI_COST_DAYS_PER_MONTH, b, sizeof b), cost_money(c->elec_year, d, sizeof d));
    if (in->tg_tps > 0) {
        fprintf(f, "  local         %s per million generated tokens: %s of electricity, the rest hardware\n",
                cost_money(c->local_per_mtok, a, sizeof a), cost_money(c->local_elec_per_mtok, b, sizeof b));
        fprintf(f, "  capacity      the volume takes %.1f h a day generating one stream at this speed%s\n", c->hours_needed,
                c->hours_needed > in->hours_per_day ? ": more than the hours assumed (serving several streams at once, or "
                                                      "more machines, raise the throughput)"
                                                    : "");
    }
    fprintf(f, "  break-even    %s", cli_cost_fmt_duration(c->breakeven_years, a, sizeof a));
    if (!isfinite(c->breakeven_years)) fprintf(f, " (the electricity costs as much as the API or more)");
    if (in->kwh_price > 0 && in->watts > 0 && in->hours_per_day > 0)
        fprintf(f, "; %s if electricity is ignored", cli_cost_fmt_duration(c->breakeven_years_no_elec, b, sizeof b));
    fprintf(f, "\n");
}
