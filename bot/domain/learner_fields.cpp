#include "bot/domain/learner_fields.hpp"

namespace relance {

std::size_t max_bytes(LearnerField f) {
  switch (f) {
    case LearnerField::id: return max_learner_id_bytes;
    case LearnerField::first_name:
    case LearnerField::last_name: return max_name_bytes;
    case LearnerField::email: return max_email_bytes;
    case LearnerField::phone: return max_phone_bytes;
    case LearnerField::cohort: return max_cohort_bytes;
    case LearnerField::matrix_id: return max_matrix_id_bytes;
  }
  return 0;
}

std::optional<std::size_t> first_control_character(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return i;
    // C1 controls are U+0080..U+009F: C2 80..C2 9F in UTF-8.
    if (c == 0xC2 && i + 1 < s.size()) {
      const auto next = static_cast<unsigned char>(s[i + 1]);
      if (next >= 0x80 && next <= 0x9F) return i;
    }
  }
  return std::nullopt;
}

std::optional<FieldProblem> learner_field_problem(LearnerField f, std::string_view value) {
  if (const auto limit = max_bytes(f); value.size() > limit)
    return FieldProblem{FieldProblem::Kind::too_long, limit, value.size(), 0, 0};
  if (const auto at = first_control_character(value)) {
    const auto c = static_cast<unsigned char>(value[*at]);
    const char32_t code = c == 0xC2 ? char32_t(static_cast<unsigned char>(value[*at + 1])) : char32_t(c);
    return FieldProblem{FieldProblem::Kind::control_character, 0, 0, *at, code};
  }
  return std::nullopt;
}

}  // namespace relance
