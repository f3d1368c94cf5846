// Turning a Scene into English: the intro (a synopsis-like paragraph describing the poster) and genre
// labels. Intros name the shape kind plus 1–3 of {shape colour, count, position, background}, with
// synonyms, several sentence patterns and content-free filler sentences, so that no fixed template or
// single keyword gives the poster away.
#pragma once

#include "synth/random.hpp"
#include "synth/scene.hpp"

#include <string>
#include <vector>

namespace clipmatch::synth {

/// Which attributes besides the shape kind an intro names. (Singular vs plural always shows whether there is
/// one shape or several; style words and the extra shape sentence are further hints not tracked here.)
struct Mentions {
  bool colour = false, count = false, position = false, background = false;
};

/// The intro for `scene`; `mentioned`, when given, receives which attributes it names.
std::string describe_scene(const Scene& scene, Rng& rng, Mentions* mentioned = nullptr);

/// Genre labels that follow from the background (colour → one genre, style → possibly a second).
std::vector<std::string> scene_genres(const Scene& scene);

/// Every word an intro may use for `kind` (singular and plural), for tests.
std::vector<std::string> shape_words(ShapeKind kind);

}  // namespace clipmatch::synth
