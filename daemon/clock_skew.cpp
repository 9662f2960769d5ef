#include "clock_skew.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

namespace loopgate {
namespace {

// RFC 9110 5.6.7's day-name (IMF-fixdate, asctime) and day-name-l (RFC 850),
// case-sensitive. Whether the name is the date's weekday is not checked: the
// date says the day without it, and 5.6.7 asks recipients to be robust in
// parsing timestamps rather than to refuse one for a redundant part.
constexpr std::array<std::string_view, 7> kDayNames = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDayNames = {"Monday", "Tuesday", "Wednesday", "Thursday",
                                                           "Friday", "Saturday", "Sunday"};

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days from 1970-01-01 to year-month-day (proleptic Gregorian), H. Hinnant's days_from_civil.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in(int64_t y, unsigned m) {
    constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `width` digits (or 1 to `width` when !exact) at `at`.
bool digits(std::string_view text, size_t& at, size_t width, int& out, bool exact = true) {
    size_t n = 0;
    int value = 0;
    while (n < width && at + n < text.size() && std::isdigit(static_cast<unsigned char>(text[at + n]))) {
        value = value * 10 + (text[at + n] - '0');
        ++n;
    }
    if (n == 0 || (exact && n != width)) return false;
    at += n;
    out = value;
    return true;
}

bool literal(std::string_view text, size_t& at, std::string_view what) {
    if (text.substr(at, what.size()) != what) return false;
    at += what.size();
    return true;
}

bool month(std::string_view text, size_t& at, unsigned& out) {
    for (size_t i = 0; i < kMonths.size(); ++i) {
        if (text.substr(at, 3) == kMonths[i]) {
            out = static_cast<unsigned>(i + 1);
            at += 3;
            return true;
        }
    }
    return false;
}

bool clock_time(std::string_view text, size_t& at, int& h, int& m, int& s) {
    return digits(text, at, 2, h) && literal(text, at, ":") && digits(text, at, 2, m) && literal(text, at, ":") &&
           digits(text, at, 2, s);
}

std::optional<int64_t> seconds_of(int64_t year, unsigned mon, int day, int h, int m, int s) {
    if (mon < 1 || mon > 12 || day < 1 || static_cast<unsigned>(day) > days_in(year, mon)) return std::nullopt;
    if (h > 23 || m > 59 || s > 60) return std::nullopt;  // 60: a leap second
    return days_from_civil(year, mon, static_cast<unsigned>(day)) * 86400 + h * 3600 + m * 60 + s;
}

// After the day name and its separator, each form has its own order.
std::optional<int64_t> imf_fixdate(std::string_view text, size_t at) {  // "06 Nov 1994 08:49:37 GMT"
    int day, year, h, m, s;
    unsigned mon;
    if (!digits(text, at, 2, day) || !literal(text, at, " ") || !month(text, at, mon) || !literal(text, at, " ") ||
        !digits(text, at, 4, year) || !literal(text, at, " ") || !clock_time(text, at, h, m, s) ||
        !literal(text, at, " GMT") || at != text.size()) {
        return std::nullopt;
    }
    return seconds_of(year, mon, day, h, m, s);
}

std::optional<int64_t> rfc850_date(std::string_view text, size_t at) {  // "06-Nov-94 08:49:37 GMT"
    int day, yy, h, m, s;
    unsigned mon;
    if (!digits(text, at, 2, day) || !literal(text, at, "-") || !month(text, at, mon) || !literal(text, at, "-") ||
        !digits(text, at, 2, yy) || !literal(text, at, " ") || !clock_time(text, at, h, m, s) ||
        !literal(text, at, " GMT") || at != text.size()) {
        return std::nullopt;
    }
    // RFC 9110 5.6.7: a two-digit year more than 50 years in the future is in the past century.
    return seconds_of(yy < 70 ? 2000 + yy : 1900 + yy, mon, day, h, m, s);
}

std::optional<int64_t> asctime_date(std::string_view text, size_t at) {  // "Nov  6 08:49:37 1994"
    int day, year, h, m, s;
    unsigned mon;
    if (!month(text, at, mon) || !literal(text, at, " ")) return std::nullopt;
    if (at < text.size() && text[at] == ' ') ++at;  // a one-digit day is padded with a space
    if (!digits(text, at, 2, day, /*exact=*/false) || !literal(text, at, " ") || !clock_time(text, at, h, m, s) ||
        !literal(text, at, " ") || !digits(text, at, 4, year) || at != text.size()) {
        return std::nullopt;
    }
    return seconds_of(year, mon, day, h, m, s);
}

}  // namespace

std::optional<int64_t> parse_http_date(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    size_t name_end = 0;
    while (name_end < text.size() && std::isalpha(static_cast<unsigned char>(text[name_end]))) ++name_end;
    std::string_view name = text.substr(0, name_end);
    bool short_name = std::find(kDayNames.begin(), kDayNames.end(), name) != kDayNames.end();
    bool long_name = std::find(kLongDayNames.begin(), kLongDayNames.end(), name) != kLongDayNames.end();
    if (text.substr(name_end, 2) == ", ") {
        if (short_name) return imf_fixdate(text, name_end + 2);
        if (long_name) return rfc850_date(text, name_end + 2);
        return std::nullopt;
    }
    if (short_name && text.substr(name_end, 1) == " ") return asctime_date(text, name_end + 1);
    return std::nullopt;
}

std::optional<int64_t> parse_utc_time(std::string_view text) {
    size_t at = 0;
    int year, mon, day, h, m, s;
    if (!digits(text, at, 4, year) || !literal(text, at, "-") || !digits(text, at, 2, mon) || !literal(text, at, "-") ||
        !digits(text, at, 2, day) || !literal(text, at, "T") || !clock_time(text, at, h, m, s) ||
        !literal(text, at, "Z") || at != text.size()) {
        return std::nullopt;
    }
    return seconds_of(year, static_cast<unsigned>(mon), day, h, m, s);
}

std::string utc_time_text(int64_t seconds) {
    int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
    int64_t rest = seconds - days * 86400;
    // civil_from_days, the inverse of days_from_civil.
    int64_t z = days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
    char text[96];  // room for any int64_t, though a certificate's year has four digits
    std::snprintf(text, sizeof text, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<long long>(y), m, d,
                  static_cast<long long>(rest / 3600), static_cast<long long>(rest / 60 % 60),
                  static_cast<long long>(rest % 60));
    return text;
}

std::string duration_text(int64_t seconds) {
    if (seconds < 0) seconds = -seconds;
    if (seconds < 120) return std::to_string(seconds) + " s";
    if (seconds < 2 * 3600) return std::to_string(seconds / 60) + " min";
    if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + " h";
    return std::to_string(seconds / 86400) + " days";
}

}  // namespace loopgate
