// What a learner's fields may hold, wherever they come from (the HTTP API,
// a CSV import): one set of limits, so a learner refused by one door is not
// let in by the other. Values are UTF-8; limits are in bytes, which is what
// the store keeps and what bounds memory.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace relance {

enum class LearnerField { id, first_name, last_name, email, phone, cohort, matrix_id };

// The most bytes a field may hold. An id may be an e-mail address (the CSV
// import and Moodle exports key learners by it), so it gets an address's
// length (RFC 5321: 254); a Matrix user id is at most 255 bytes (spec,
// "User identifiers").
inline constexpr std::size_t max_learner_id_bytes = 254;
inline constexpr std::size_t max_name_bytes = 200;
inline constexpr std::size_t max_email_bytes = 254;
inline constexpr std::size_t max_phone_bytes = 32;
inline constexpr std::size_t max_cohort_bytes = 128;
inline constexpr std::size_t max_matrix_id_bytes = 255;

std::size_t max_bytes(LearnerField f);

struct FieldProblem {
  enum class Kind { too_long, control_character };
  Kind kind;
  std::size_t limit = 0;   // too_long: the most bytes allowed
  std::size_t size = 0;    // too_long: the bytes given
  std::size_t offset = 0;  // control_character: its byte offset
  char32_t code = 0;       // control_character: which one (U+0000..U+001F, U+007F..U+009F)
};

// Why `value` cannot be stored as field `f`, or nullopt. No field of a
// learner is free text: a control character (a NUL cuts the value when
// SQLite reads it back; a line break forges lines in staff messages and
// logs; tab included) is refused anywhere in it.
std::optional<FieldProblem> learner_field_problem(LearnerField f, std::string_view value);

// The first C0 or C1 control character (U+0000..U+001F, U+007F..U+009F) in
// UTF-8 text, as its offset; nullopt when there is none.
std::optional<std::size_t> first_control_character(std::string_view utf8);

}  // namespace relance
