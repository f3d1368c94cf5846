// clipmatch — the one table of names for every enumeration that users spell as text.
//
// The CLI's choices, the Python keyword values, the JSON metadata of checkpoints and reports, and the docs all
// use these names; nothing else spells them. enum_names<E>() lists the choices in a fixed order with a short
// help text; to_name() and from_name() convert.
//
//   clipmatch::from_name<clipmatch::LossKind>("siglip", "loss")  // LossKind::SigLip
//   clipmatch::to_name(clipmatch::FreezeMode::TopK)              // "top-k"
#pragma once

#include <clipmatch/error.hpp>
#include <clipmatch/export.h>
#include <clipmatch/image.hpp>
#include <clipmatch/log.hpp>
#include <clipmatch/metrics.hpp>
#include <clipmatch/catalog.hpp>
#include <clipmatch/model.hpp>

#include <string>
#include <vector>

namespace clipmatch {

template <typename Enum>
struct NamedValue {
  Enum value;
  const char* name;
  const char* help;
};

/// The names of an enumeration, in the order the docs and help texts list them. Specialised (and exported)
/// for Device, DistanceKind, LossKind, FreezeMode, Schedule, HeadKind, TemperatureInit, LogLevel,
/// ResizeFilter, ResizeMode, EncoderSide and Precision.
template <typename Enum>
const std::vector<NamedValue<Enum>>& enum_names();

template <> CLIPMATCH_API const std::vector<NamedValue<Device>>& enum_names<Device>();
template <> CLIPMATCH_API const std::vector<NamedValue<DistanceKind>>& enum_names<DistanceKind>();
template <> CLIPMATCH_API const std::vector<NamedValue<LossKind>>& enum_names<LossKind>();
template <> CLIPMATCH_API const std::vector<NamedValue<FreezeMode>>& enum_names<FreezeMode>();
template <> CLIPMATCH_API const std::vector<NamedValue<Schedule>>& enum_names<Schedule>();
template <> CLIPMATCH_API const std::vector<NamedValue<HeadKind>>& enum_names<HeadKind>();
template <> CLIPMATCH_API const std::vector<NamedValue<TemperatureInit>>& enum_names<TemperatureInit>();
template <> CLIPMATCH_API const std::vector<NamedValue<LogLevel>>& enum_names<LogLevel>();
template <> CLIPMATCH_API const std::vector<NamedValue<ResizeFilter>>& enum_names<ResizeFilter>();
template <> CLIPMATCH_API const std::vector<NamedValue<ResizeMode>>& enum_names<ResizeMode>();
template <> CLIPMATCH_API const std::vector<NamedValue<EncoderSide>>& enum_names<EncoderSide>();
template <> CLIPMATCH_API const std::vector<NamedValue<Precision>>& enum_names<Precision>();
template <> CLIPMATCH_API const std::vector<NamedValue<IndexKind>>& enum_names<IndexKind>();

/// "a, b or c": choices for messages and help texts.
inline std::string join_choices(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

/// "a, b or c" — the choices of an enumeration, for messages and help texts.
template <typename Enum>
std::string name_list() {
  std::vector<std::string> names;
  for (const auto& entry : enum_names<Enum>()) names.emplace_back(entry.name);
  return join_choices(names);
}

/// The name of `value` ("?" for a value outside the table, which only a cast can make).
template <typename Enum>
const char* to_name(Enum value) {
  for (const auto& entry : enum_names<Enum>())
    if (entry.value == value) return entry.name;
  return "?";
}

/// The value named `text` (exact match); throws Error(InvalidArgument) "`what` must be a, b or c, got 'x'".
template <typename Enum>
Enum from_name(const std::string& text, const std::string& what) {
  for (const auto& entry : enum_names<Enum>())
    if (text == entry.name) return entry.value;
  throw Error(ErrorKind::InvalidArgument, what + " must be " + name_list<Enum>() + ", got '" + text + "'");
}

}  // namespace clipmatch
