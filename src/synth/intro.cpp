#include "synth/intro.hpp"

#include <array>
#include <cctype>

namespace clipmatch::synth {

namespace {

using Words = std::vector<std::string>;

const Words& colour_words(Colour colour) {
  static const std::array<Words, kColourCount> words = {{
      {"red", "crimson", "scarlet"},
      {"orange", "amber", "tangerine"},
      {"yellow", "golden", "lemon"},
      {"green", "emerald", "jade"},
      {"blue", "azure", "cobalt"},
      {"purple", "violet", "plum"},
      {"pink", "rose", "blush"},
      {"white", "ivory", "snowy"},
      {"black", "inky", "coal-black"},
      {"brown", "chestnut", "coffee"},
  }};
  return words[static_cast<int>(colour)];
}

struct Noun {
  std::string singular, plural;
};

const std::vector<Noun>& shape_nouns(ShapeKind kind) {
  static const std::array<std::vector<Noun>, kShapeKindCount> nouns = {{
      {{"circle", "circles"}, {"disc", "discs"}, {"orb", "orbs"}, {"ball", "balls"}},
      {{"square", "squares"}, {"block", "blocks"}, {"box", "boxes"}},
      {{"triangle", "triangles"}, {"wedge", "wedges"}},
      {{"star", "stars"}},
      {{"ring", "rings"}, {"hoop", "hoops"}, {"halo", "halos"}},
      {{"cross", "crosses"}, {"plus sign", "plus signs"}},
      {{"diamond", "diamonds"}, {"lozenge", "lozenges"}},
  }};
  return nouns[static_cast<int>(kind)];
}

const Words& count_words(int count) {
  static const std::array<Words, 4> words = {{
      {"a", "one", "a single", "a lone", "a solitary"},
      {"two", "a pair of", "twin"},
      {"three", "a trio of"},
      {"four", "a quartet of"},
  }};
  return words[count - 1];
}

const Words& position_words(Position position) {
  static const std::array<Words, kPositionCount> words = {{
      {"at the top", "near the top", "high above", "up high", "along the top edge"},
      {"at the bottom", "near the bottom", "down below", "low near the ground", "along the bottom edge"},
      {"on the left", "to the left", "along the left side", "on the left-hand side"},
      {"on the right", "to the right", "along the right side", "on the right-hand side"},
      {"in the middle", "at the centre", "in the center", "right in the middle"},
  }};
  return words[static_cast<int>(position)];
}

const Words& style_words(BackgroundStyle style) {
  static const std::array<Words, kBackgroundStyleCount> words = {{
      {"plain", "flat", "solid"},
      {"fading", "dusky", "gradient"},
      {"striped", "banded", "stripy"},
  }};
  return words[static_cast<int>(style)];
}

/// Genre per background colour, with the words an intro may use for it.
struct Genre {
  std::string label;
  Words words;
};

const Genre& colour_genre(Colour colour) {
  static const std::array<Genre, kColourCount> genres = {{
      {"Action", {"action", "explosive", "high-octane"}},
      {"Western", {"western", "frontier", "dusty"}},
      {"Comedy", {"comedy", "madcap", "light-hearted"}},
      {"Adventure", {"adventure", "daring", "epic"}},
      {"Drama", {"drama", "moving", "quiet"}},
      {"Fantasy", {"fantasy", "magical", "enchanted"}},
      {"Romance", {"romance", "romantic", "tender"}},
      {"Mystery", {"mystery", "puzzling", "enigmatic"}},
      {"Horror", {"horror", "chilling", "haunting"}},
      {"War", {"war", "wartime", "gritty"}},
  }};
  return genres[static_cast<int>(colour)];
}

const Words kBackgroundNouns = {"sky", "backdrop", "background", "wall", "field", "canvas", "void", "horizon"};
const Words kPrepositions = {"against", "over", "before", "across"};
const Words kStoryNouns = {"story", "tale", "film", "picture", "saga"};
const std::vector<Noun> kVerbs = {{"drifts", "drift"},   {"floats", "float"}, {"hovers", "hover"},
                                  {"lingers", "linger"}, {"glows", "glow"},   {"waits", "wait"},
                                  {"rests", "rest"},     {"hangs", "hang"},   {"shines", "shine"}};
const Words kFillers = {
    "Nothing will ever be the same.",
    "A tale of hope and loss.",
    "Based on a true story.",
    "The journey has only begun.",
    "Some secrets refuse to stay buried.",
    "Fate has other plans.",
    "Time is running out.",
    "One night changes everything.",
    "Nobody saw it coming.",
    "Every ending is a new beginning.",
    "The truth lies somewhere in between.",
    "Old friends become new rivals.",
    "A promise must be kept.",
    "What they find will surprise everyone.",
    "Sometimes silence says it all.",
    "The past is never really gone.",
    "Courage comes in strange forms.",
    "Winter is coming to the valley.",
    "A long summer draws to a close.",
    "Not everything is what it seems.",
};

bool starts_with_vowel(const std::string& word) {
  return !word.empty() && std::string("aeiou").find(word[0]) != std::string::npos;
}

std::string with_article(const std::string& phrase) { return (starts_with_vowel(phrase) ? "an " : "a ") + phrase; }

std::string capitalised(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  return text;
}

/// Joins non-empty parts with single spaces.
std::string join(std::initializer_list<std::string> parts) {
  std::string out;
  for (const std::string& part : parts) {
    if (part.empty()) continue;
    if (!out.empty()) out += ' ';
    out += part;
  }
  return out;
}

Mentions choose_mentions(Rng& rng) {
  std::array<int, 4> order = {0, 1, 2, 3};
  for (int i = 3; i > 0; --i) std::swap(order[i], order[rng.below(std::size_t(i) + 1)]);
  const int how_many = rng.between(1, 3);
  Mentions m;
  for (int i = 0; i < how_many; ++i) {
    switch (order[i]) {
      case 0: m.colour = true; break;
      case 1: m.count = true; break;
      case 2: m.position = true; break;
      case 3: m.background = true; break;
    }
  }
  return m;
}

/// "three crimson stars", "a lone orb", "some blue boxes".
std::string subject_phrase(const Scene& scene, const Mentions& m, Rng& rng) {
  const Noun& noun = rng.pick(shape_nouns(scene.kind));
  const std::string colour = m.colour ? rng.pick(colour_words(scene.colour)) : "";
  const bool plural = scene.count > 1;
  const std::string head = join({colour, plural ? noun.plural : noun.singular});
  if (m.count) {
    const std::string& count = rng.pick(count_words(scene.count));
    return count == "a" ? with_article(head) : count + " " + head;
  }
  if (!plural) return with_article(head);
  static const Words vague = {"some", "several", "a few", ""};
  return join({rng.pick(vague), head});
}

/// "a striped azure sky"; the style is named only sometimes.
std::string background_phrase(const Scene& scene, Rng& rng) {
  const std::string style = rng.chance(scene.background_style == BackgroundStyle::Plain ? 0.3 : 0.75)
                                ? rng.pick(style_words(scene.background_style))
                                : "";
  return with_article(join({style, rng.pick(colour_words(scene.background)), rng.pick(kBackgroundNouns)}));
}

std::string extra_sentence(const Scene& scene, Rng& rng) {
  const Noun& noun = rng.pick(shape_nouns(scene.extra->kind));
  const std::string thing = join({rng.pick(colour_words(scene.extra->colour)), noun.singular});
  switch (rng.below(3)) {
    case 0: return "Nearby, " + with_article("small " + thing) + " keeps watch.";
    case 1: return capitalised(with_article("tiny " + thing)) + " waits on the other side.";
    default: return "Far off, " + with_article("little " + thing) + " looks on.";
  }
}

}  // namespace

std::string describe_scene(const Scene& scene, Rng& rng, Mentions* mentioned) {
  const Mentions m = choose_mentions(rng);
  if (mentioned != nullptr) *mentioned = m;
  const std::string subject = subject_phrase(scene, m, rng);
  const bool plural = scene.count > 1;
  const Noun& verb_forms = rng.pick(kVerbs);
  const std::string verb = plural ? verb_forms.plural : verb_forms.singular;
  const std::string position = m.position ? rng.pick(position_words(scene.position)) : "";
  const std::string background = m.background ? background_phrase(scene, rng) : "";
  const std::string preposition = rng.pick(kPrepositions);
  const std::string setting = background.empty() ? "" : preposition + " " + background;
  const Genre& genre = colour_genre(scene.background);

  std::string core;
  switch (rng.below(7)) {
    case 0:
      core = join({subject, verb, position, setting}) + ".";
      break;
    case 1:
      core = setting.empty() ? join({subject, verb, position}) + "."
                             : setting + ", " + join({subject, verb, position}) + ".";
      break;
    case 2:
      core = position.empty() ? join({subject, verb, setting}) + "."
                              : position + ", " + join({subject, verb, setting}) + ".";
      break;
    case 3:
      core = join({"we see", subject, position, setting}) + ".";
      break;
    case 4:
      core = join({"this", rng.pick(genre.words), rng.pick(kStoryNouns), "follows", subject, position, setting}) +
             ".";
      break;
    case 5:
      core = join({plural ? "there are" : "there is", subject, position, setting}) + ".";
      break;
    default:
      core = background.empty() ? join({subject, verb, position}) + ", and nobody knows why."
                                : join({subject, verb, position}) + ", and the world around is " + background + ".";
      break;
  }
  std::string intro = capitalised(core);
  if (scene.extra && rng.chance(0.4)) intro += " " + extra_sentence(scene, rng);
  const int fillers = static_cast<int>(rng.below(3));
  for (int i = 0; i < fillers; ++i) {
    const std::string& filler = rng.pick(kFillers);
    intro = rng.chance(0.5) ? filler + " " + intro : intro + " " + filler;
  }
  return intro;
}

std::vector<std::string> scene_genres(const Scene& scene) {
  std::vector<std::string> genres = {colour_genre(scene.background).label};
  if (scene.background_style == BackgroundStyle::Fading) genres.emplace_back("Thriller");
  if (scene.background_style == BackgroundStyle::Striped) genres.emplace_back("Musical");
  return genres;
}

std::vector<std::string> shape_words(ShapeKind kind) {
  std::vector<std::string> words;
  for (const Noun& noun : shape_nouns(kind)) {
    words.push_back(noun.singular);
    words.push_back(noun.plural);
  }
  return words;
}

}  // namespace clipmatch::synth
