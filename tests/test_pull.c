/* llm pull, ls, rm and store names end to end (tests/pull_test.sh against
   tests/http_range_server.py on 127.0.0.1), and the cost arithmetic of llm bench --cost
   checked against the article's figures (../shared/ARTICLE.md). */
#include "../tools/llm/cost.c"

#include <math.h>

#if !defined(_WIN32)
/* tests/pull_test.sh, through t_script: skipped visibly when curl or python3 is missing. */
static void test_pull(void) { t_script("tests/pull_test.sh", 120, 29); }
#endif

#define T_NEAR(x, want, tol) T_CHECK(fabs((x) - (want)) <= (tol), "%s = %.4f, want %.4f +- %g", #x, (double)(x), (double)(want), (double)(tol))

/* The article: 1 M input and 1 M output tokens a day at $0.50 / $1.50 per million, months of
   30 days: ~$2 a day, ~$60 a month, ~$720 a year. A $4,200 build at 700 W, 8 h a day,
   $0.15/kWh (~$25 a month) breaks even in 5.8 years without electricity (it says ~5.5), about
   10 with it; at 10 M + 10 M tokens a day the API is ~$7,200 a year and the break-even about
   7 months; at 50 M, weeks. The Mac Studio: $5,800, 60 W (~$3 a month), ~8 years. */
static void test_cost_article(void) {
    cli_cost_inputs in;
    cli_cost c;
    char buf[64];
    cli_cost_default_inputs(&in);
    T_CHECK(in.hw_price == 4200 && in.watts == 700 && in.hours_per_day == 8 && in.kwh_price == 0.15 && in.api_in == 0.50 &&
                in.api_out == 1.50 && in.tokens_in == 1e6 && in.tokens_out == 1e6,
            "the defaults are not the article's inputs");
    cli_cost_compute(&in, &c);
    T_NEAR(c.api_day, 2.00, 1e-9);
    T_NEAR(c.api_day * CLI_COST_DAYS_PER_MONTH, 60, 1e-9);
    T_NEAR(c.api_year, 720, 1e-9);
    T_NEAR(c.elec_day * CLI_COST_DAYS_PER_MONTH, 25.2, 1e-9);
    T_NEAR(c.breakeven_years_no_elec, 5.8, 0.05);
    T_NEAR(c.breakeven_years, 10, 0.1);
    T_CHECK(strcmp(cli_cost_fmt_duration(c.breakeven_years_no_elec, buf, sizeof buf), "5.8 years") == 0, "%s", buf);
    T_CHECK(strcmp(cli_cost_fmt_duration(c.breakeven_years, buf, sizeof buf), "10.1 years") == 0, "%s", buf);
    T_CHECK(c.local_per_mtok == 0 && c.hours_needed == 0, "no speed, no local cost per token");

    in.tokens_in = in.tokens_out = 10e6;
    cli_cost_compute(&in, &c);
    T_NEAR(c.api_year, 7200, 1e-6);
    T_NEAR(c.breakeven_years * 12, 7.3, 0.05);
    T_NEAR(c.breakeven_years_no_elec * 12, 7.0, 0.05);
    T_CHECK(strcmp(cli_cost_fmt_duration(c.breakeven_years, buf, sizeof buf), "7.3 months") == 0, "%s", buf);

    in.tokens_in = in.tokens_out = 50e6;
    cli_cost_compute(&in, &c);
    T_CHECK(strstr(cli_cost_fmt_duration(c.breakeven_years, buf, sizeof buf), "weeks") != NULL, "50 M a day: %s", buf);

    cli_cost_default_inputs(&in);
    in.hw_price = 5800, in.watts = 60;
    cli_cost_compute(&in, &c);
    T_NEAR(c.elec_day * CLI_COST_DAYS_PER_MONTH, 2.16, 1e-9); /* the article rounds to ~$3 */
    T_NEAR(c.breakeven_years, 8.36, 0.05); /* "~8 years" */
}

/* The measured speed into money: 40 tokens/s at 700 W is 6.94 h and 486 Wh per million
   tokens; the hardware over 3 years of 8 h days is $0.486 an hour. */
static void test_cost_speed(void) {
    cli_cost_inputs in;
    cli_cost c;
    char text[4096];
    FILE *f;
    size_t n;
    cli_cost_default_inputs(&in);
    in.tg_tps = 40;
    cli_cost_compute(&in, &c);
    T_NEAR(c.local_elec_per_mtok, 0.7 * 1e6 / 40 / 3600 * 0.15, 1e-9);
    T_NEAR(c.local_per_mtok - c.local_elec_per_mtok, 4200.0 / (3 * 360 * 8) * 1e6 / 40 / 3600, 1e-9);
    T_NEAR(c.hours_needed, 1e6 / 40 / 3600, 1e-9);
    in.pp_tps = 400;
    cli_cost_compute(&in, &c);
    T_NEAR(c.hours_needed, 1e6 / 40 / 3600 + 1e6 / 400 / 3600, 1e-9);
    in.kwh_price = 0; /* --no-electricity */
    cli_cost_compute(&in, &c);
    T_NEAR(c.breakeven_years, c.breakeven_years_no_elec, 0);
    in.kwh_price = 10; /* electricity dearer than the API: never */
    cli_cost_compute(&in, &c);
    T_CHECK(isinf(c.breakeven_years), "break-even %g", c.breakeven_years);

    /* the printout states every assumption it used */
    cli_cost_default_inputs(&in);
    in.tg_tps = 40;
    cli_cost_compute(&in, &c);
    f = tmpfile();
    T_REQUIRE(f != NULL, "tmpfile");
    cli_cost_print(f, &in, &c);
    rewind(f);
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    T_CHECK(strstr(text, "$4,200.00 once") && strstr(text, "700 W for 8 h a day at $0.15 per kWh") &&
                strstr(text, "$0.50 input, $1.50 output per million tokens") &&
                strstr(text, "1,000,000 input and 1,000,000 output tokens a day") && strstr(text, "months of 30 days") &&
                strstr(text, "40.00 tokens/s") && strstr(text, "$720.00 a year") && strstr(text, "$25.20 a month") &&
                strstr(text, "break-even    10.1 years; 5.8 years if electricity is ignored"),
            "%s", text);
}

static void tests_pull(void) {
#if !defined(_WIN32)
    T_RUN(test_pull);
#endif
    T_RUN(test_cost_article);
    T_RUN(test_cost_speed);
}
