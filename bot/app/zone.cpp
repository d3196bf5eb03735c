#include "bot/app/zone.hpp"

#include <date/tz.h>

#include <stdexcept>
#include <string>

namespace relance::app {

namespace {

class TzZone final : public ZoneRules {
public:
  explicit TzZone(const date::time_zone* z) : zone_(z) {}

  LocalTime to_local(Timestamp t) const override {
    const auto info = zone_->get_info(date::sys_seconds{t.time_since_epoch()});
    return LocalTime{t.time_since_epoch() + info.offset};
  }

  Timestamp to_utc(LocalTime l) const override {
    const date::local_seconds dl{l.time_since_epoch()};
    const auto info = zone_->get_info(dl);
    switch (info.result) {
      case date::local_info::unique:
        return Timestamp{l.time_since_epoch() - info.first.offset};
      case date::local_info::ambiguous:  // autumn: the earlier instant
        return Timestamp{l.time_since_epoch() - info.first.offset};
      case date::local_info::nonexistent:  // spring gap: the instant the gap ends
      default:
        return Timestamp{info.second.begin.time_since_epoch()};
    }
  }

  std::string name() const override { return std::string(zone_->name()); }

private:
  const date::time_zone* zone_;
};

}  // namespace

std::unique_ptr<ZoneRules> make_zone(std::string_view name) {
  try {
    return std::make_unique<TzZone>(date::locate_zone(std::string(name)));
  } catch (const std::exception& e) {
    throw std::runtime_error("unknown time zone '" + std::string(name) + "': " + e.what());
  }
}

}  // namespace relance::app
