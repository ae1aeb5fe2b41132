"""Search ranking and accent folding: PostgreSQL indexes fold diacritics like SQLite FTS5.

FTS5's `unicode61 remove_diacritics 2` tokenizer already folds accents on SQLite ("cafe" finds
"café"). PostgreSQL's `simple` configuration does not, so this migration adds an IMMUTABLE SQL
function `search_fold(text)` (a plain `translate()`, no extension, no superuser) and rebuilds the
GIN expression indexes of posts and users over the folded text. The two strings below are the
characters FTS5 folds and what it folds them to, taken from SQLite 3.40's tokenizer, frozen here
so the function (and every index built with it) never changes under a running database.
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
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE "
    f"AS $fold$ SELECT translate(value, '{_FROM}', '{_TO}') $fold$"
)
_POST_OLD = "to_tsvector('simple'::regconfig, coalesce(text, ''))"
_USER_OLD = "to_tsvector('simple'::regconfig, username || ' ' || coalesce(display_name, ''))"
_POST_NEW = "to_tsvector('simple'::regconfig, search_fold(coalesce(text, '')))"
_USER_NEW = (
    "to_tsvector('simple'::regconfig, search_fold(username || ' ' || coalesce(display_name, '')))"
)


def _indexes(post: str, user: str) -> None:
    op.execute("DROP INDEX IF EXISTS ix_search_post_text")
    op.execute("DROP INDEX IF EXISTS ix_search_user_name")
    op.execute(f"CREATE INDEX ix_search_post_text ON post_post USING gin (({post}))")
    op.execute(f"CREATE INDEX ix_search_user_name ON account_user USING gin (({user}))")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # FTS5 folds accents and ranks with bm25 already
    op.execute(_FOLD)
    _indexes(_POST_NEW, _USER_NEW)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _indexes(_POST_OLD, _USER_OLD)
    op.execute("DROP FUNCTION IF EXISTS search_fold(text)")
