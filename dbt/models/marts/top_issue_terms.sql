{{ config(**table_config()) }}

-- The words customers' issues are described with, week by week: each word of the current
-- summaries' issue sentences that at least var('top_issue_min_calls') calls of the week use,
-- without stop words. Issue sentences quote customers, so rare words (names, numbers) never
-- leave this model: the threshold is a privacy rule as much as a noise filter.

with

summaries as (

    select
        call_id,
        category,
        sentiment,
        issue_sentence,
        cast({{ dbt.date_trunc('week', 'call_date') }} as date) as week_start

    from {{ ref('int_current_summaries') }}
    where issue_sentence is not null

),

stopwords as (

    select word from {{ ref('issue_stopwords') }}

),

words as (

    select distinct
        summaries.week_start,
        summaries.call_id,
        summaries.category,
        summaries.sentiment,
        issue_words.term

    from summaries
    cross join unnest({{ text_words('summaries.issue_sentence') }}) as issue_words (term)

),

terms as (

    select
        words.week_start,
        words.term,
        count(*) as calls,
        {{ rate("words.sentiment = 'Negative'") }} as negative_share

    from words
    left join stopwords
        on words.term = stopwords.word
    where stopwords.word is null
        and length(words.term) >= 3
        -- digits are amounts, dates and account numbers, not issues
        and {{ regex_match('words.term', '^[a-z]+$') }}
    group by words.week_start, words.term
    having count(*) >= {{ var('top_issue_min_calls') }}

),

category_of_term as (

    select
        words.week_start,
        words.term,
        words.category,
        count(*) as category_calls

    from words
    group by words.week_start, words.term, words.category

),

top_category as (

    select
        week_start,
        term,
        max_by(category, category_calls) as top_category

    from category_of_term
    group by week_start, term

),

final as (

    select
        terms.week_start,
        terms.term,
        terms.calls,
        rank() over (partition by terms.week_start order by terms.calls desc) as rank_in_week,
        top_category.top_category,
        terms.negative_share

    from terms
    inner join top_category
        on terms.week_start = top_category.week_start
        and terms.term = top_category.term

)

select * from final
