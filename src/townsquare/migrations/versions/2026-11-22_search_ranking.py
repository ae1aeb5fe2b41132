"""Search ranking and accent folding: PostgreSQL folds diacritics like SQLite FTS5, and keeps
each post's tsvector so ranking does not rebuild it.

FTS5's `unicode61 remove_diacritics 2` tokenizer already folds accents on SQLite ("cafe" finds
"café"). PostgreSQL's `simple` configuration does not, so this migration adds an IMMUTABLE SQL
function `search_fold(text)` (a plain `translate()`, no extension, no superuser; ASCII-only text
skips it, since translate() scans its whole table per character). The two strings below are the
characters FTS5 folds and what it folds them to, taken from SQLite 3.40's tokenizer, frozen here
so the function (and everything built with it) never changes under a running database.

Posts get a stored generated column `search_vector` (the folded tsvector) with the GIN index on
it: ts_rank_cd needs each candidate's tsvector, which an expression index cannot give back.
Users keep a GIN expression index over the folded name (short texts, cheap to rebuild).
The column is outside the models (`infra.search.include_object` hides it from comparisons).
See docs/decisions/0204-search-relevance-and-accent-folding.md.

Revision ID: 0006_search_ranking
Revises: 0002
Create Date: 2026-11-22 01:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_search_ranking"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# characters with diacritics (and the few case variants unicode61 folds) -> FTS5's base letter
_FROM = (
    "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆ"
    "ćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐő"
    "ŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžſƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚ"
    "ǛǜǞǟǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰ"
    "ȱȲȳςϐϑϕϖϰϱϵḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓḔḕḖḗḘḙḚḛḜḝḞḟḠḡḢḣḤḥḦḧḨḩḪḫḬḭḮḯḰ"
    "ḱḲḳḴḵḶḷḸḹḺḻḼḽḾḿṀṁṂṃṄṅṆṇṈṉṊṋṌṍṎṏṐṑṒṓṔṕṖṗṘṙṚṛṜṝṞṟṠṡṢṣṤṥṦṧṨṩṪṫṬ"
    "ṭṮṯṰṱṲṳṴṵṶṷṸṹṺṻṼṽṾṿẀẁẂẃẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẛẠạẢảẤấẦầẨẩẪẫẬậ"
    "ẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứ"
    "ỪừỬửỮữỰựỲỳỴỵỶỷỸỹιÅ"
)
_TO = (
    "aaaaaaceeeeiiiinooooouuuuyaaaaaaceeeeiiiinooooouuuuyyaaaaaac"
    "cccccccddeeeeeeeeeegggggggghhiiiiiiiiijjkkllllllnnnnnnoooooo"
    "rrrrrrssssssssttttuuuuuuuuuuuuwwyyyzzzzzzsoouuaaiioouuuuuuuu"
    "uuaaggkkoooojggnnaaaaaaeeeeiiiioooorrrruuuusstthhaaeeooooooo"
    "oyyσβθφπκρεaabbbbbbccddddddddddeeeeeeeeeeffgghhhhhhhhhhiiiik"
    "kkkkkllllllllmmmmmmnnnnnnnnoooooooopppprrrrrrrrssssssssssttt"
    "tttttuuuuuuuuuuvvvvwwwwwwwwwwxxxxyyzzzzzzhtwysaaaaaaaaaaaaaa"
    "aaaaaaaaaaeeeeeeeeeeeeeeeeiiiioooooooooooooooooooooooouuuuuu"
    "uuuuuuuuyyyyyyyyιa"
)
_FOLD = (
    "CREATE OR REPLACE FUNCTION search_fold(value text) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fold$ SELECT CASE "
    "WHEN octet_length(value) = char_length(value) THEN value "
    f"ELSE translate(value, '{_FROM}', '{_TO}') END $fold$"
)
_POST_OLD = "to_tsvector('simple'::regconfig, coalesce(text, ''))"
_USER_OLD = "to_tsvector('simple'::regconfig, username || ' ' || coalesce(display_name, ''))"
_POST_VECTOR = "to_tsvector('simple'::regconfig, search_fold(coalesce(text, '')))"
_USER_NEW = (
    "to_tsvector('simple'::regconfig, search_fold(username || ' ' || coalesce(display_name, '')))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # FTS5 folds accents and ranks with bm25 already
    op.execute(_FOLD)
    op.execute("DROP INDEX IF EXISTS ix_search_post_text")
    op.execute("DROP INDEX IF EXISTS ix_search_user_name")
    op.execute(
        "ALTER TABLE post_post ADD COLUMN search_vector tsvector "
        f"GENERATED ALWAYS AS ({_POST_VECTOR}) STORED"
    )
    op.execute("CREATE INDEX ix_search_post_text ON post_post USING gin (search_vector)")
    op.execute(f"CREATE INDEX ix_search_user_name ON account_user USING gin (({_USER_NEW}))")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_search_post_text")
    op.execute("DROP INDEX IF EXISTS ix_search_user_name")
    op.execute("ALTER TABLE post_post DROP COLUMN IF EXISTS search_vector")
    op.execute(f"CREATE INDEX ix_search_post_text ON post_post USING gin (({_POST_OLD}))")
    op.execute(f"CREATE INDEX ix_search_user_name ON account_user USING gin (({_USER_OLD}))")
    op.execute("DROP FUNCTION IF EXISTS search_fold(text)")
