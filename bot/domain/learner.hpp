// Learners and what counts as a sign of activity.
#pragma once

#include "bot/domain/time.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relance {

// Where a sign of activity came from. Policies pick which ones count.
enum class Source : std::uint8_t {
  lms,      // platform login / course access (Moodle, CSV "Dernier accès")
  lesson,   // a lesson attended
  booking,  // a lesson booked
  visit,    // came to the front desk (logged by staff)
  call,     // phoned us (logged by staff)
  message,  // replied to a message (SMS, Matrix, web chat)
  email,    // wrote an email (logged by staff or received)
  staff,    // any other contact a staff member vouches for
};
inline constexpr std::size_t source_count = 8;
inline constexpr std::array<std::string_view, source_count> source_names{
    "lms", "lesson", "booking", "visit", "call", "message", "email", "staff"};

std::string_view to_string(Source s);
// English names and French aliases ("plateforme", "lecon", "reservation",
// "visite", "appel", "courriel", "personnel"), any case, accents optional.
std::optional<Source> parse_source(std::string_view s);

// A set of sources as a bit mask (bit i = Source i).
struct SourceSet {
  std::uint16_t bits = 0;
  static SourceSet all() { return SourceSet{(1u << source_count) - 1}; }
  SourceSet& add(Source s) { bits |= std::uint16_t(1u << unsigned(s)); return *this; }
  bool has(Source s) const { return bits & (1u << unsigned(s)); }
  bool empty() const { return bits == 0; }
  friend bool operator==(SourceSet, SourceSet) = default;
};

// The latest activity per source, in Unix seconds; 0 means never.
struct ActivitySummary {
  std::array<std::int64_t, source_count> last{};
  std::optional<Timestamp> last_over(SourceSet set) const;
  // Keeps the maximum: replaying an older event changes nothing.
  bool observe(Source s, Timestamp at);
};

enum class LearnerStatus : std::uint8_t { active, dropped_out, archived };
std::string_view to_string(LearnerStatus s);
std::optional<LearnerStatus> parse_learner_status(std::string_view s);

struct Learner {
  std::int64_t key = 0;     // store row id
  std::string id;           // the organisation's id (LMS id, file number, email)
  std::string first_name;
  std::string last_name;
  std::string email;
  std::string phone;        // E.164, or empty
  // What an import found in the phone column and could not read as a number
  // ("NC", "12345"), kept so staff see it; empty: nothing rejected. A valid
  // number clears it; an empty cell leaves it alone.
  std::string phone_rejected;
  std::string matrix_id;    // @lea:example.org, or empty (relaunches in a Matrix direct room)
  std::string cohort;       // cohort or training
  std::optional<std::chrono::sys_days> start_date;
  std::string language;      // "fr", "en"...; empty: keep the stored one (default fr)
  LearnerStatus status = LearnerStatus::active;
  Timestamp first_seen{};
  ActivitySummary activity;
  // When the learner opted out of SMS (replied STOP); empty: may be texted.
  // Read from the store; imports and feeds never change it.
  std::optional<Timestamp> sms_opt_out;

  std::string display_name() const;
};

}  // namespace relance
