#include "bot/app/phone.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace relance::app {

namespace {

namespace fs = std::filesystem;

// libphonenumber brings protobuf and ICU with it: 3.7 MB resident as soon
// as they are loaded (their static initialisers run at load), a sixth of an
// idle `relance serve`. Most runs never read a phone number (a service whose
// learners were imported, `--version`, an export), so the library lives in a
// module of its own (relance_phone.so, phone_libphonenumber.cpp), loaded on
// the first number to read: installed next to the binary's lib/relance, or
// beside it in the build tree.
using Normalize = void (*)(std::string_view, std::string_view, PhoneResult*);

std::vector<fs::path> module_candidates() {
  std::vector<fs::path> out;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back(exe.parent_path() / ".." / "lib" / "relance" / "relance_phone.so");
    out.push_back(exe.parent_path() / "relance_phone.so");
  }
#ifdef RELANCE_PHONE_MODULE_BUILD_PATH
  // Tests, run from the build tree (often the binary's own folder).
  if (const fs::path built(RELANCE_PHONE_MODULE_BUILD_PATH); std::find(out.begin(), out.end(), built) == out.end())
    out.push_back(built);
#endif
  return out;
}

std::string not_found(const std::string& tried) {
  return "phone numbers: relance_phone.so not found (looked for" + tried + "); reinstall relance";
}

Normalize load_module() {
  std::string tried;
  for (const auto& p : module_candidates()) {
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      tried += " " + p.string();
      continue;
    }
    void* h = ::dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) throw std::runtime_error("phone numbers: cannot load " + p.string() + ": " + ::dlerror());
    if (auto* f = reinterpret_cast<Normalize>(::dlsym(h, "relance_normalize_phone"))) return f;
    throw std::runtime_error("phone numbers: " + p.string() + " is not relance's phone module");
  }
  throw std::runtime_error(not_found(tried));
}

}  // namespace

std::string phone_module_problem() {
  std::string tried;
  for (const auto& p : module_candidates()) {
    std::error_code ec;
    if (fs::exists(p, ec)) return {};
    tried += " " + p.string();
  }
  return not_found(tried);
}

PhoneResult normalize_phone(std::string_view raw, std::string_view region) {
  // No number, nothing to load.
  if (raw.find_first_not_of(" \t\r\n") == std::string_view::npos) return {};
  static const Normalize normalize = load_module();  // once, thread-safe
  PhoneResult r;
  normalize(raw, region, &r);
  return r;
}

}  // namespace relance::app
